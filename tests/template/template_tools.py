"""Offline tools for the SAM template tests: load, translate, evaluate intrinsics, walk dependencies.

Loading and translating are the local stack's own (local/template.py: samtranslator's loader and
transform, no managed-policy lookup), so the tests check the very translation `ktp up` runs. The
evaluator here is symbolic on purpose: fixed fake pseudo parameters (a mixed-case stack name, a
known stack id) and ``<X>`` placeholders for resources, for assertions across parameter values
without creating anything; the local stack leaves evaluation to moto's CloudFormation.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from local.template import load_template
from local.template import translate as translate_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

FAKE_PSEUDO_PARAMETERS: dict[str, str] = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "ap-southeast-3",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    # Mixed case on purpose: the bucket name must stay valid whatever the operator calls the stack.
    "AWS::StackName": "Ktp-Pipeline-Prod",
    "AWS::StackId": (
        "arn:aws:cloudformation:ap-southeast-3:123456789012:stack/Ktp-Pipeline-Prod/"
        "4c3a2b10-8f1e-11ef-9d2a-0a1b2c3d4e5f"
    ),
}


class _NoValue:
    """AWS::NoValue: removes the surrounding list item or property."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "NoValue"


NO_VALUE = _NoValue()


def load_sam_template() -> dict[str, Any]:
    """template.yaml as a dict, short-form tags (!Ref, !Sub, ...) expanded to their long form."""
    return load_template(TEMPLATE_PATH)


def translate(parameter_values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The plain CloudFormation the SAM transform produces from template.yaml (the translation the
    local stack runs, too)."""
    return translate_template(load_sam_template(), parameter_values, region=FAKE_PSEUDO_PARAMETERS["AWS::Region"])


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Parameter defaults as CloudFormation passes them around: strings."""
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


class IntrinsicEvaluator:
    """Resolves the intrinsic functions this template uses, for concrete parameter values.

    Resources resolve to placeholders: ``Ref X`` -> ``"<X>"``, ``GetAtt X.Y`` -> ``"<X.Y>"``.
    """

    _SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> None:
        self.template = template
        self.parameters = {**parameter_defaults(template), **{k: str(v) for k, v in (parameters or {}).items()}}
        self.resources = set(template.get("Resources", {}))

    def condition(self, name: str) -> bool:
        return bool(self.evaluate(self.template["Conditions"][name]))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in FAKE_PSEUDO_PARAMETERS:
            return FAKE_PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return f"<{name}>"
        raise KeyError(f"Ref to unknown name {name!r}")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.evaluate(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.resources:
                return f"<{name}>"
            return str(self._ref(name))

        return self._SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.evaluate(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return f"<{resource}.{attribute}>"
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, variables)
            if key == "Fn::Select":
                index, values = self.evaluate(arg[0]), self.evaluate(arg[1])
                return values[int(index)]
            if key == "Fn::Split":
                return str(self.evaluate(arg[1])).split(arg[0])
            if key == "Fn::Join":
                return arg[0].join(str(item) for item in self.evaluate(arg[1]))
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.evaluate(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.evaluate(item) for item in arg)
                return str(left) == str(right)  # CloudFormation compares parameter values as strings
            if key == "Fn::Not":
                return not self.evaluate(arg[0])
            if key == "Fn::Or":
                return any(self.evaluate(item) for item in arg)
            if key == "Fn::And":
                return all(self.evaluate(item) for item in arg)
        evaluated = {key: self.evaluate(value) for key, value in node.items()}
        return {key: value for key, value in evaluated.items() if value is not NO_VALUE}


# --------------------------------------------------------------------------- dependency graph

_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _referenced_names(node: Any) -> Iterator[str]:
    """Every logical id or parameter name that a property tree references."""
    if isinstance(node, list):
        for item in node:
            yield from _referenced_names(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            yield value
        elif key == "Fn::GetAtt":
            yield value[0] if isinstance(value, list) else value.split(".", 1)[0]
        elif key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
            yield from (name for name in _SUB_REFERENCE.findall(text) if name not in variables)
            yield from _referenced_names(variables)
        else:
            yield from _referenced_names(value)


def dependency_graph(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Resource -> resources it must wait for (Ref, GetAtt, Sub and DependsOn), as CloudFormation sees it."""
    resources = template.get("Resources", {})
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else list(depends_on)
        referenced = set(_referenced_names(resource.get("Properties", {}))) | set(depends_on)
        graph[name] = {other for other in referenced if other in resources}
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One dependency cycle as a path (first node repeated at the end), or None if the graph is acyclic."""
    visiting, done = set(), set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        visiting.add(node)
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if target in visiting:
                return path[path.index(target):] + [target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        visiting.discard(node)
        done.add(node)
        path.pop()
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


# --------------------------------------------------------------------------- IAM


def iam_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role or policy logical id, statement) for every identity-based IAM statement in the template."""
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties["PolicyDocument"]]
        else:
            continue
        for document in documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def deep_copy(template: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(template))


def sam_executable() -> str | None:
    """The SAM CLI: on PATH, or next to the venv's python (`make test` runs it without activating)."""
    beside_python = Path(sys.executable).parent / "sam"
    return shutil.which("sam") or (str(beside_python) if beside_python.exists() else None)


def python313_executable() -> Path | None:
    """The interpreter that `python3.13` on PATH runs, or None. `sam build` needs python3.13; a pyenv
    shim is on PATH even where no 3.13 is installed, so it is run, not just looked up."""
    if shutil.which("python3.13") is None:
        return None
    probe = subprocess.run(["python3.13", "-c", "import sys; print(sys.executable)"], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=False)
    return Path(probe.stdout.strip()) if probe.returncode == 0 and probe.stdout.strip() else None
