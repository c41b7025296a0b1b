"""Read what the local stack needs out of ``template.yaml``: parameters (defaults), conditions,
the jobs table, the bucket and its S3 event filter, secrets, queues, the three functions (code,
handler, layers, environment, timeout) and their events — so local and cloud cannot drift.

Intrinsic functions are resolved against a :class:`Resolver` that knows the local physical ids
(bucket name, table name, secret ARNs, ...). Anything we do not emulate resolves to a readable
placeholder rather than failing, so an extra alarm or topic in the template never breaks ``ktp up``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from local.cfn_yaml import load_template

LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "ap-southeast-3"


class _NoValue:
    """``AWS::NoValue``: removes the enclosing key or list item."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_PATTERN = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """The template lacks something the local stack cannot work without."""


@dataclass
class Resolver:
    """Resolves intrinsic functions. ``refs`` maps logical ids to what ``!Ref`` returns;
    ``attributes`` maps ``(logical_id, attribute)`` to what ``!GetAtt`` returns."""

    parameters: Mapping[str, Any]
    conditions: Mapping[str, Any]
    region: str = DEFAULT_REGION
    account_id: str = LOCAL_ACCOUNT_ID
    stack_name: str = "ktp-local"
    mappings: Mapping[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    _condition_cache: dict[str, bool] = field(default_factory=dict)

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            # A stable UUID in the real format: templates slice it (e.g. for unique bucket names).
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
            + str(uuid.uuid5(uuid.NAMESPACE_URL, f"ktp-local:{self.account_id}:{self.region}:{self.stack_name}")),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        return f"local-{name}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if attribute == "Arn" or attribute.endswith("Arn"):
            return f"arn:aws:local:{self.region}:{self.account_id}:{logical_id}"
        return f"local-{logical_id}-{attribute}"

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_cache[name] = bool(self.resolve(self.conditions[name]))
        return self._condition_cache[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    # --- intrinsic functions -------------------------------------------------------------
    def _fn_ref(self, name: Any) -> Any:
        return self.ref(self.resolve(name))

    def _fn_get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self.resolve(part) for part in argument)
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in (argument[1] or {}).items()}
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is an escaped, literal ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return _SUB_PATTERN.sub(substitute, text)

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _fn_select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(delimiter)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self.resolve(item) for item in argument)
        return str(left) == str(right)

    def _fn_not(self, argument: Any) -> bool:
        return not self.resolve(argument[0])

    def _fn_and(self, argument: Any) -> bool:
        return all(self.resolve(item) for item in argument)

    def _fn_or(self, argument: Any) -> bool:
        return any(self.resolve(item) for item in argument)

    def _fn_condition(self, name: Any) -> bool:
        return self.condition(name)

    def _fn_find_in_map(self, argument: Any) -> Any:
        map_name, top, second = (self.resolve(item) for item in argument)
        return self.mappings[map_name][top][second]

    def _fn_base64(self, argument: Any) -> str:
        import base64

        return base64.b64encode(str(self.resolve(argument)).encode()).decode()

    def _fn_get_azs(self, argument: Any) -> list[str]:
        return [f"{self.region}{suffix}" for suffix in "abc"]

    def _fn_import_value(self, argument: Any) -> str:
        return f"local-import-{self.resolve(argument)}"

    def _fn_to_json_string(self, argument: Any) -> str:
        import json

        return json.dumps(self.resolve(argument), separators=(",", ":"))

    def _fn_length(self, argument: Any) -> int:
        return len(self.resolve(argument))

    _FUNCTIONS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Condition": _fn_condition,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::ImportValue": _fn_import_value,
        "Fn::ToJsonString": _fn_to_json_string,
        "Fn::Length": _fn_length,
    }


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` as the local runtime needs it."""

    logical_id: str
    code_dir: Path
    handler_module: str
    handler_function: str
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    events: dict[str, dict[str, Any]]

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


class StackTemplate:
    """``template.yaml`` read once, resolved with parameter defaults (or the given overrides)."""

    def __init__(
        self,
        path: str | Path,
        *,
        parameter_overrides: Mapping[str, Any] | None = None,
        region: str = DEFAULT_REGION,
        stack_name: str = "ktp-local",
    ) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.document = load_template(self.path)
        self.resources: dict[str, dict[str, Any]] = self.document["Resources"]
        self.globals: dict[str, Any] = self.document.get("Globals") or {}
        self.parameters = self._parameter_values(parameter_overrides or {})
        self.resolver = Resolver(
            parameters=self.parameters,
            conditions=self.document.get("Conditions") or {},
            region=region,
            stack_name=stack_name,
            mappings=self.document.get("Mappings") or {},
        )

    # --- basics ---------------------------------------------------------------------------
    def _parameter_values(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, definition in (self.document.get("Parameters") or {}).items():
            if name in overrides:
                values[name] = overrides[name]
            elif "Default" in definition:
                default = definition["Default"]
                if definition.get("Type") == "CommaDelimitedList" and isinstance(default, str):
                    default = [item.strip() for item in default.split(",")] if default else []
                values[name] = default
            else:
                raise TemplateError(f"parameter {name} has no Default; pass it as an override")
        unknown = set(overrides) - set(values)
        if unknown:
            raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
        return values

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def resources_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource.get("Type") in types and self._condition_holds(resource)
        }

    def _condition_holds(self, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        return True if condition is None else self.resolver.condition(condition)

    def resource(self, logical_id: str, *types: str) -> dict[str, Any]:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"template has no resource {logical_id}")
        if types and resource.get("Type") not in types:
            raise TemplateError(f"{logical_id} is a {resource.get('Type')}, expected {' or '.join(types)}")
        return resource

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resource(logical_id).get("Properties") or {}

    # --- functions ------------------------------------------------------------------------
    def function_spec(self, logical_id: str) -> FunctionSpec:
        """The function with Globals merged in. Its environment is resolved with the resolver's
        refs as they are now, so set the physical ids (``resolver.refs``) first."""
        self.resource(logical_id, "AWS::Serverless::Function")
        merged = self._merged_function_properties(logical_id)
        code_uri = merged.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local path")
        handler = merged.get("Handler") or ""
        module, _, function = handler.rpartition(".")
        if not module or not function:
            raise TemplateError(f"{logical_id}: Handler {handler!r} is not module.function")
        layer_dirs = tuple(self._layer_dir(layer) for layer in merged.get("Layers") or [])
        return FunctionSpec(
            logical_id=logical_id,
            code_dir=(self.root / code_uri).resolve(),
            handler_module=module,
            handler_function=function,
            layer_dirs=tuple(path for path in layer_dirs if path is not None),
            environment=self.function_environment(logical_id),
            timeout_seconds=int(self.resolve(merged.get("Timeout", 3))),
            memory_mb=int(self.resolve(merged.get("MemorySize", 128))),
            events=(self.properties(logical_id).get("Events") or {}),
        )

    def _merged_function_properties(self, logical_id: str) -> dict[str, Any]:
        merged = dict(self.globals.get("Function") or {})
        own = self.properties(logical_id)
        for key, value in own.items():
            if key == "Environment":
                variables = {**((merged.get("Environment") or {}).get("Variables") or {})}
                variables.update((value or {}).get("Variables") or {})
                merged["Environment"] = {"Variables": variables}
            elif key == "Layers":
                merged["Layers"] = [*(merged.get("Layers") or []), *value]
            else:
                merged[key] = value
        return merged

    def _layer_dir(self, layer: Any) -> Path | None:
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in self.resources:
            props = self.properties(layer["Ref"])
            content = props.get("ContentUri")
            if isinstance(content, str):
                return (self.root / content).resolve()
        return None  # a published layer ARN: nothing local to put on the path

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Globals + the function's own variables, resolved with the resolver's current refs."""
        merged = self._merged_function_properties(logical_id)
        variables = self.resolve((merged.get("Environment") or {}).get("Variables") or {})
        return {name: _env_string(value) for name, value in variables.items()}

    def functions(self) -> dict[str, dict[str, Any]]:
        return self.resources_of_type("AWS::Serverless::Function")

    def function_events(self, logical_id: str, *types: str) -> list[dict[str, Any]]:
        events = self.properties(logical_id).get("Events") or {}
        return [event for event in events.values() if not types or event.get("Type") in types]

    # --- triggers -------------------------------------------------------------------------
    def s3_trigger(self, function_id: str = "SubmitFunction") -> S3Trigger:
        """The S3 event of the submitter (SAM ``Type: S3``), or the bucket's own
        ``NotificationConfiguration`` pointing at it."""
        for event in self.function_events(function_id, "S3"):
            props = event.get("Properties") or {}
            bucket = props.get("Bucket")
            if not (isinstance(bucket, dict) and "Ref" in bucket):
                raise TemplateError(f"{function_id}: S3 event Bucket must be !Ref to the bucket")
            events = self.resolve(props.get("Events") or "s3:ObjectCreated:*")
            prefix, suffix = self._key_filter(props.get("Filter"))
            return S3Trigger(bucket["Ref"], tuple([events] if isinstance(events, str) else events), prefix, suffix)
        for bucket_id in self.resources_of_type("AWS::S3::Bucket"):
            notification = self.properties(bucket_id).get("NotificationConfiguration") or {}
            for config in notification.get("LambdaConfigurations") or []:
                if _mentions(config.get("Function"), function_id):
                    prefix, suffix = self._key_filter(config.get("Filter"))
                    return S3Trigger(bucket_id, (self.resolve(config.get("Event")),), prefix, suffix)
        raise TemplateError(f"no S3 trigger found for {function_id}")

    def _key_filter(self, filter_: Any) -> tuple[str, str]:
        resolved = self.resolve(filter_) if filter_ is not None else None
        if not isinstance(resolved, dict):  # absent, or an !If that chose AWS::NoValue
            return "", ""
        rules = (resolved.get("S3Key") or {}).get("Rules") or []
        values = {str(rule.get("Name", "")).lower(): str(rule.get("Value") or "") for rule in rules}
        return values.get("prefix", ""), values.get("suffix", "")

    def schedule_seconds(self, function_id: str = "PollerFunction") -> float:
        for event in self.function_events(function_id, "Schedule", "ScheduleV2"):
            props = event.get("Properties") or {}
            expression = self.resolve(props.get("Schedule") or props.get("ScheduleExpression"))
            if expression:
                return rate_to_seconds(expression)
        if "PollRate" in self.parameters:
            return rate_to_seconds(self.parameters["PollRate"])
        raise TemplateError(f"no schedule found for {function_id}")

    def http_routes(self, function_id: str = "CallbackFunction") -> list[HttpRoute]:
        routes = []
        for event in self.function_events(function_id, "HttpApi", "Api"):
            props = self.resolve({k: v for k, v in (event.get("Properties") or {}).items() if k in ("Path", "Method")})
            routes.append(HttpRoute(str(props.get("Method", "ANY")).upper(), props.get("Path", "/")))
        if not routes:
            raise TemplateError(f"no HttpApi event found for {function_id}")
        return routes

    # --- data resources -------------------------------------------------------------------
    def physical_name(self, logical_id: str, name_property: str) -> str | None:
        """The resource's explicit name (``BucketName``, ``TableName``, ``Name``), resolved."""
        value = self.properties(logical_id).get(name_property)
        return None if value is None else str(self.resolve(value))

    def table_definition(self, logical_id: str = "JobsTable") -> dict[str, Any]:
        """``create_table`` keyword arguments (without ``TableName``) from the table's properties."""
        props = self.resolve(self.resource(logical_id, "AWS::DynamoDB::Table").get("Properties") or {})
        definition: dict[str, Any] = {
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(index_kind):
                definition[index_kind] = props[index_kind]
        if definition["BillingMode"] == "PROVISIONED":
            definition["ProvisionedThroughput"] = props.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            )
        if props.get("StreamSpecification"):
            definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        return definition

    def table_ttl_attribute(self, logical_id: str = "JobsTable") -> str | None:
        ttl = self.resolve(self.properties(logical_id).get("TimeToLiveSpecification") or {})
        return ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true", "True") else None


def _mentions(value: Any, logical_id: str) -> bool:
    """True when an intrinsic expression refers to ``logical_id`` (``!Ref`` / ``!GetAtt X.Arn``)."""
    if isinstance(value, dict):
        return any(_mentions(item, logical_id) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, logical_id) for item in value)
    return isinstance(value, str) and (value == logical_id or value.startswith(f"{logical_id}."))


def _env_string(value: Any) -> str:
    """Lambda environment values are strings; YAML booleans become ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
