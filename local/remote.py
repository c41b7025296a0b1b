"""``--stack NAME``: the same commands against a deployed stack, found through its CloudFormation
Outputs (with the stack's resources as a fallback for a template without those outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local.state import StackInfo

# What each StackInfo attribute is, in the template's terms: the logical id (or parameter) the
# output's Value refers to, and the output name our template.yaml uses for it.
_ROLES: dict[str, tuple[str, str]] = {
    "bucket": ("UploadBucket", "UploadBucketName"),
    "table": ("JobsTable", "JobsTableName"),
    "upload_prefix": ("UploadPrefix", "UploadPrefix"),
    "upload_suffix": ("UploadSuffix", "UploadSuffix"),
    "callback_url": ("HttpApi", "CallbackUrl"),
    "completion_event_bus": ("CompletionEventBus", "CompletionEventBusName"),
}


def output_names_from_template(template_path: Path | None) -> dict[str, str]:
    """Role → output key, read from the template's Outputs (which output refers to which resource),
    falling back to the names our template uses."""
    names = {role: default for role, (_, default) in _ROLES.items()}
    if template_path is None or not template_path.exists():
        return names
    from local.template import load_template

    outputs = load_template(template_path).get("Outputs") or {}
    for key, output in outputs.items():
        value = (output or {}).get("Value")
        for role, (logical_id, _) in _ROLES.items():
            if role == "callback_url":
                if isinstance(value, dict) and "Fn::Sub" in value and "${HttpApi}" in str(value["Fn::Sub"]):
                    names[role] = key
            elif value == {"Ref": logical_id}:
                names[role] = key
    return names


def stack_info_from_cloudformation(
    stack_name: str,
    *,
    region: str,
    cloudformation: Any = None,
    template_path: Path | None = None,
) -> StackInfo:
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation", region_name=region)
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise LookupError(f"stack {stack_name} not found in {region}")
    outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stacks[0].get("Outputs") or []}
    names = output_names_from_template(template_path)
    values = {role: outputs.get(key) for role, key in names.items()}
    for role, logical_id in (("bucket", "UploadBucket"), ("table", "JobsTable")):
        if not values.get(role):
            resource = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
            values[role] = resource["StackResourceDetail"]["PhysicalResourceId"]
    return StackInfo(
        kind="cloudformation",
        stack_name=stack_name,
        region=region,
        bucket=values["bucket"],
        table=values["table"],
        upload_prefix=values.get("upload_prefix") or "",
        upload_suffix=values.get("upload_suffix") or "",
        callback_url=values.get("callback_url"),
        completion_event_bus=values.get("completion_event_bus") or None,
        pending_index="pending-by-next-check",
    )
