"""Invoke the stack's EraseFunction: on a deployed stack through Lambda's Invoke API, on the local
stack through the local function runtime (a child process with exactly the environment moto's
CloudFormation resolved for the function, pointed at the local endpoints).

Erasure runs in the function, not in the CLI, so the NIK-hash key never leaves Secrets Manager and
the caller needs only ``lambda:InvokeFunction`` (the same call applications make).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from local.state import StackInfo

ERASE_FUNCTION = "EraseFunction"


def erase_function_name(info: StackInfo, cloudformation: Any) -> str:
    # All resources, filtered here: moto answers DescribeStackResource(s) by logical id with a 500 for a
    # stack holding resources its CloudFormation skips (alarms, the HTTP API).
    resources = cloudformation.describe_stack_resources(StackName=info.stack_name)
    for resource in resources["StackResources"]:
        if resource.get("LogicalResourceId") == ERASE_FUNCTION and resource.get("PhysicalResourceId"):
            return resource["PhysicalResourceId"]
    raise LookupError(f"stack {info.stack_name} has no {ERASE_FUNCTION} (deployed before erasure existed?)")


def invoke_erase(info: StackInfo, request: dict[str, str], *, template_path: Path) -> dict[str, Any]:
    from local.aws_clients import client

    cloudformation = client("cloudformation", info.endpoint_url, info.region)
    awslambda = client("lambda", info.endpoint_url, info.region)
    name = erase_function_name(info, cloudformation)
    if info.kind == "cloudformation":
        answer = awslambda.invoke(FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(request))
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):  # the error type only: a message could quote the request
            raise RuntimeError(f"{ERASE_FUNCTION} failed: {(payload or {}).get('errorType', answer['FunctionError'])}")
        return payload
    return _invoke_locally(info, awslambda.get_function_configuration(FunctionName=name), request, template_path)


def _invoke_locally(info: StackInfo, configuration: dict[str, Any], request: dict[str, str],
                    template_path: Path) -> dict[str, Any]:
    from local.aws_clients import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY
    from local.functions import FunctionConfig, LocalFunction
    from local.stack import _PASSTHROUGH_ENV
    from local.template import FunctionSpec, function_code, load_template, translate

    cfn = translate(load_template(template_path), region=info.region)
    code_dir, layer_dirs = function_code(cfn, template_path.resolve().parent, ERASE_FUNCTION)
    module, _, function = configuration["Handler"].rpartition(".")
    variables = {k: str(v) for k, v in ((configuration.get("Environment") or {}).get("Variables") or {}).items()}
    spec = FunctionSpec(logical_id=ERASE_FUNCTION, code_dir=code_dir, handler_module=module, handler_function=function,
                        layer_dirs=layer_dirs, environment=variables, timeout_seconds=int(configuration["Timeout"]),
                        memory_mb=int(configuration["MemorySize"]))
    environment = {key: os.environ[key] for key in _PASSTHROUGH_ENV if key in os.environ}
    environment.update({
        "AWS_REGION": info.region, "AWS_DEFAULT_REGION": info.region,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
        "AWS_LAMBDA_FUNCTION_NAME": configuration["FunctionName"], "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb), "TZ": "UTC",
        "POWERTOOLS_TRACE_DISABLED": "true", "PYTHONUNBUFFERED": "1",
        **variables,
        # What only exists locally: moto, and the built-in extractor as the provider.
        "AWS_ENDPOINT_URL": str(info.endpoint_url),
    })
    if info.extractor_url and "PROVIDER_BASE_URL" in variables:
        environment["PROVIDER_BASE_URL"] = info.extractor_url
    logs = Path(info.data_dir or ".") / "logs"
    function = LocalFunction(FunctionConfig(spec=spec, environment=environment, function_name=configuration["FunctionName"],
                                            function_arn=configuration["FunctionArn"], log_path=logs / f"{ERASE_FUNCTION}.log"))
    try:
        return function.invoke(request)
    finally:
        function.close()
