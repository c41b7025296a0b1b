"""``template.yaml`` as the local stack reads it: loaded with samtranslator's YAML loader (the one
CloudFormation loader of this repository) and translated to plain CloudFormation by samtranslator
itself, the same transform ``sam deploy`` runs. Nothing here interprets SAM or evaluates intrinsic
functions: moto's CloudFormation does that when :mod:`local.aws` creates the stack. This module only
reads the translation's structure: the code each function runs, the route that calls it, the bucket
notification that starts it and the schedule that ticks it.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import yaml_parse

LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "ap-southeast-3"
# `sam package` uploads each CodeUri/ContentUri and puts its S3 location in the template; here the
# "key" is the local directory itself, so the translation still says where the code lives.
ARTIFACTS_BUCKET = "local-artifacts"


class TemplateError(ValueError):
    """The template lacks something the local stack cannot work without."""


def load_template(path: str | Path) -> dict[str, Any]:
    """A CloudFormation/SAM YAML file, short tags (``!Ref``, ``!Sub``, ...) in their long form.

    Each call gets its own copy; the parse is kept per file version (pure-Python YAML takes ~0.3 s
    of CPU for template.yaml, and a process may start several stacks)."""
    stat = Path(path).stat()
    return copy.deepcopy(_parsed(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    document = yaml_parse(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources section)")
    return document


def translate(
    document: Mapping[str, Any], parameter_values: Mapping[str, Any] | None = None, *, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The plain CloudFormation samtranslator makes of ``document``, offline: local code paths become
    ``s3://local-artifacts/<path>`` and no managed policy is looked up in IAM (the template names none;
    if one is added, the translation fails instead of calling AWS)."""
    template = copy.deepcopy(dict(document))
    unknown = set(parameter_values or {}) - set(template.get("Parameters") or {})
    if unknown:
        raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://{ARTIFACTS_BUCKET}/{properties[key].strip('/')}"
    values = dict(parameter_values or {})
    to_py27_compatible_template(template, values)  # what samtranslator's own transform() does first
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    try:
        translated = translator.translate(template, parameter_values=values, get_managed_policy_map=dict)
    except InvalidDocumentException as error:  # `ktp up` reports TemplateError without a traceback
        causes = "; ".join(cause.message for cause in error.causes)
        raise TemplateError(f"the SAM transform rejects the template: {causes}") from None
    finally:
        translator.metrics.publish()  # to its no-op publisher; unpublished metrics only warn at exit
    return undo_mark_unicode_str_in_template(translated)


# --- what the local runtime needs from the translation ----------------------------------------
@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Lambda::Function`` as the local runtime runs it (values as moto resolved them)."""

    logical_id: str
    code_dir: Path
    handler_module: str
    handler_function: str
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int

    @property
    def handler_file(self) -> Path:
        return self.code_dir / (self.handler_module.replace(".", "/") + ".py")


@dataclass(frozen=True)
class S3Trigger:
    """The upload bucket's notification that starts the submitter."""

    bucket_logical_id: str
    events: tuple[str, ...]
    prefix: str
    suffix: str

    def matches(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(frozen=True)
class HttpRoute:
    method: str  # upper case, or "ANY"
    path: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def resources_of_type(cfn: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in cfn["Resources"].items() if resource.get("Type") in types}


def artifact_dir(root: Path, location: Any, what: str) -> Path:
    """The local directory behind a translated ``Code``/``Content`` location (see ``translate``)."""
    if not (isinstance(location, dict) and location.get("S3Bucket") == ARTIFACTS_BUCKET):
        raise TemplateError(f"{what}: code must be a local path (CodeUri/ContentUri)")
    return (root / location["S3Key"]).resolve()


def function_code(cfn: Mapping[str, Any], root: Path, logical_id: str) -> tuple[Path, tuple[Path, ...]]:
    """The function's code directory and its layers' directories (published layer ARNs have none)."""
    properties = cfn["Resources"][logical_id]["Properties"]
    layers = []
    for layer in properties.get("Layers") or []:
        layer_id = layer.get("Ref") if isinstance(layer, dict) else None
        if layer_id in cfn["Resources"]:
            layers.append(artifact_dir(root, cfn["Resources"][layer_id]["Properties"]["Content"], layer_id))
    return artifact_dir(root, properties.get("Code"), logical_id), tuple(layers)


def _calls(value: Any, function_id: str) -> bool:
    """True when an ARN expression is the function's (``GetAtt F.Arn``, or ``${F.Arn}`` in a Sub)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0] == function_id
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return f"${{{function_id}.Arn}}" in text
    return False


def http_routes(cfn: Mapping[str, Any], function_id: str) -> list[HttpRoute]:
    """The routes of the translated HTTP API's OpenAPI body whose integration is the function."""
    routes = []
    for api in resources_of_type(cfn, "AWS::ApiGatewayV2::Api").values():
        for path, methods in ((api["Properties"].get("Body") or {}).get("paths") or {}).items():
            for method, operation in methods.items():
                if _calls((operation.get("x-amazon-apigateway-integration") or {}).get("uri"), function_id):
                    routes.append(HttpRoute("ANY" if method == "x-amazon-apigateway-any-method" else method.upper(), path))
    if not routes:
        raise TemplateError(f"no HTTP API route calls {function_id}")
    return routes


def s3_notification(cfn: Mapping[str, Any], function_id: str) -> tuple[str, dict[str, Any]]:
    """(bucket logical id, its unresolved ``LambdaConfigurations`` entry) that invokes the function."""
    for bucket_id, bucket in resources_of_type(cfn, "AWS::S3::Bucket").items():
        notification = (bucket.get("Properties") or {}).get("NotificationConfiguration") or {}
        for configuration in notification.get("LambdaConfigurations") or []:
            if _calls(configuration.get("Function"), function_id):
                return bucket_id, configuration
    raise TemplateError(f"no S3 notification invokes {function_id}")


def s3_trigger(bucket_id: str, resolved_configuration: Mapping[str, Any]) -> S3Trigger:
    """The trigger from a notification entry as CloudFormation resolved it (moto keeps the
    ``AWS::NoValue`` list items as ``None``; a filter that resolved to nothing is absent)."""
    rules = ((resolved_configuration.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
    values = {str(rule["Name"]).lower(): str(rule.get("Value") or "") for rule in rules if rule}
    return S3Trigger(bucket_id, (resolved_configuration["Event"],), values.get("prefix", ""), values.get("suffix", ""))


def schedule_expressions(cfn: Mapping[str, Any], function_id: str) -> Iterator[Any]:
    """The unresolved schedule expressions of the scheduler schedules and rules that target the function."""
    for resource in resources_of_type(cfn, "AWS::Scheduler::Schedule", "AWS::Events::Rule").values():
        properties = resource.get("Properties") or {}
        targets = [properties["Target"]] if "Target" in properties else properties.get("Targets") or []
        if any(_calls(target.get("Arn"), function_id) for target in targets):
            yield properties["ScheduleExpression"]


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|second|seconds|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_to_seconds(expression: str | int | float) -> float:
    """``rate(5 minutes)`` → 300. A bare number is taken as minutes (the usual ``PollRate`` unit)."""
    if isinstance(expression, (int, float)) or str(expression).strip().isdigit():
        return float(expression) * 60
    match = _RATE.match(str(expression).strip())
    if not match:
        raise TemplateError(f"unsupported schedule expression {expression!r} (only rate(...) runs locally)")
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return float(amount * _UNIT_SECONDS[unit])
