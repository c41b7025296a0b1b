"""The AWS side of the local stack: a moto server on 127.0.0.1 and, in it, the CloudFormation stack
samtranslator made of the template (bucket, jobs table with its keys and indexes, queues, roles,
functions with their environment resolved), plus the few things moto's CloudFormation leaves out."""

from __future__ import annotations

import base64
import copy
import json
import logging
import secrets as secrets_module
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.aws_clients import EVENTS_QUEUE_SUFFIX, client
from local.completion_events import PipeSpec, pipes_in, subscribe_queue
from local.loopback_http import loopback_client
from local.template import (
    LOCAL_ACCOUNT_ID,
    FunctionSpec,
    S3Trigger,
    TemplateError,
    function_code,
    resources_of_type,
    s3_notification,
    s3_trigger,
    schedule_expressions,
)

log = logging.getLogger("ktp.local.aws")


def _install_s3_event_fixes() -> None:
    """Make moto's S3 notifications match what AWS sends (idempotent):

    - ``versionId`` is present for versioned buckets (moto omits it; the pipeline derives job ids
      from it);
    - the key keeps its ``/`` (moto's ``quote_plus`` turns them into ``%2F``; S3 does not).
    """
    from urllib.parse import quote_plus

    from moto.s3 import notifications

    original = notifications._get_s3_event
    if getattr(original, "_ktp_adds_version_id", False):
        return

    def with_version_id(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        version_id = getattr(key, "version_id", None)
        for record in event.get("Records", []):
            record["s3"]["object"]["key"] = quote_plus(key.name, safe="/")
            if getattr(bucket, "is_versioned", False) and version_id and version_id != "null":
                record["s3"]["object"].setdefault("versionId", version_id)
        return event

    with_version_id._ktp_adds_version_id = True  # type: ignore[attr-defined]
    notifications._get_s3_event = with_version_id


def ensure_port_free(port: int) -> None:
    """Fail clearly when someone listens on ``port``. Probes the way our servers bind (all set
    SO_REUSEADDR: werkzeug, http.server, uvicorn), so connections of a stack that just stopped,
    left in TIME_WAIT, do not block an immediate restart; a listener still does (never
    SO_REUSEPORT, which would let two servers share the port)."""
    import os
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name == "posix":  # on Windows SO_REUSEADDR would allow taking a port in use
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(port) from None


def _moto_api(endpoint_url: str, action: str, **params: Any) -> None:
    """POST to moto's own management API (``reset``, ``seed``)."""
    with loopback_client(timeout=10) as http:
        http.post(f"{endpoint_url}/moto-api/{action}", params=params).raise_for_status()


class PortInUse(OSError):
    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} on 127.0.0.1 is in use (another `ktp up`?); choose --port-base, or 0 for free ports")
        self.port = port


def _skip_known_gaps(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("No Moto CloudFormation support")


class MotoServer:
    """``moto.server.ThreadedMotoServer`` bound to 127.0.0.1 (port 0 picks a free port)."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self.port = port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        # One werkzeug line per AWS call would drown everything else (and object keys are personal).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The resource types moto's CloudFormation skips (alarms, the HTTP API, the schedule, ...) are
        # known and either filled in by `provision` or not needed locally: no warning per resource.
        moto_log = logging.getLogger("moto")
        if _skip_known_gaps not in moto_log.filters:
            moto_log.addFilter(_skip_known_gaps)
        warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation", category=UserWarning)
        self.endpoint_url = ""
        self._serving = False

    def start(self) -> str:
        # ThreadedMotoServer waits forever if its thread cannot bind: find out first.
        if self.port:
            ensure_port_free(self.port)
        _install_s3_event_fixes()
        self._server.start()
        self._serving = True
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto's backends are process-wide: start from nothing, even if this process ran a stack
        # (or a moto mock) before. What should survive comes back from the snapshot.
        _moto_api(self.endpoint_url, "reset")
        return self.endpoint_url

    def stop(self) -> None:
        # ThreadedMotoServer.stop() joins a thread that ends only after serving: after a start cut
        # short (Ctrl-C before the server was up) it would wait for ever. That thread is a daemon.
        if self._serving:
            self._serving = False
            self._server.stop()


def pin_object_version(bucket: str, key: str, current_version_id: str, wanted_version_id: str,
                       *, account_id: str = "123456789012") -> None:
    """Give an object version in the in-process moto server a chosen version id (S3 has no API for
    that; restoring a snapshot needs it so records and queued events keep pointing at it)."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["aws"]
    for version in backend.get_bucket(bucket).keys.getlist(key, default=[]):
        if str(version.version_id) == current_version_id:
            version._version_id = wanted_version_id
            return
    raise LookupError(f"no version {current_version_id} of the restored object")


@dataclass
class ProvisionedResources:
    """What the stack made, keyed the way the template refers to it."""

    bucket: str
    table: str
    trigger: S3Trigger
    events_queue_url: str = ""
    events_queue_arn: str = ""
    physical_ids: dict[str, str] = field(default_factory=dict)  # logical id -> what !Ref gives
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    function_arns: dict[str, str] = field(default_factory=dict)
    schedules: dict[str, str] = field(default_factory=dict)  # function logical id -> its expression
    pipes: dict[str, PipeSpec] = field(default_factory=dict)  # pipe logical id -> its resolved properties
    completion_events_queue_url: str = ""  # the local target of the completion-event bus
    completion_event_bus: str = ""


# Resolved by moto's CloudFormation but not applied by it (moto 5.2.5): asked for as stack outputs
# and applied by ``provision`` afterwards.
_OUTPUT_PREFIX = "KtpLocal"


def _gap_outputs(cfn: dict[str, Any], submit_id: str, scheduled_ids: tuple[str, ...]) -> dict[str, Any]:
    bucket_id, notification = s3_notification(cfn, submit_id)
    outputs = {
        "Notification": notification,
        "Versioning": cfn["Resources"][bucket_id]["Properties"].get("VersioningConfiguration") or {},
        **{f"Ttl{table_id}": (table.get("Properties") or {}).get("TimeToLiveSpecification") or {}
           for table_id, table in resources_of_type(cfn, "AWS::DynamoDB::Table").items()},
        **{f"Schedule{function_id}": expression for function_id in scheduled_ids
           for expression in schedule_expressions(cfn, function_id)},
        # Completion events: moto stores no AWS::Pipes::Pipe; local/completion_events.py runs it.
        **{f"Pipe{pipe_id}": cfn["Resources"][pipe_id]["Properties"] for pipe_id in pipes_in(cfn)},
    }
    return {_OUTPUT_PREFIX + name: {"Value": {"Fn::ToJsonString": value}} for name, value in outputs.items()}


def _for_moto(cfn: dict[str, Any], secret_arns: dict[str, str], outputs: dict[str, Any]) -> dict[str, Any]:
    """The translation as moto gets it: the code stays in its directories (moto stores a stub),
    and the secrets, which moto's CloudFormation cannot create, become parameters holding the ARNs
    of the secrets we made, so every ``!Ref`` to them resolves as on AWS."""
    template = copy.deepcopy(cfn)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"ZipFile": "# runs from its local directory"}
        elif resource["Type"] == "AWS::Lambda::LayerVersion":
            resource["Properties"]["Content"] = {"ZipFile": _EMPTY_ZIP}
    for logical_id in secret_arns:
        del template["Resources"][logical_id]
        template.setdefault("Parameters", {})[logical_id] = {"Type": "String"}
    template["Outputs"] = {**(template.get("Outputs") or {}), **outputs}
    return template


_EMPTY_ZIP = base64.b64encode(b"PK\x05\x06" + b"\x00" * 18).decode()


def provision(
    cfn: dict[str, Any],
    endpoint_url: str,
    secrets: dict[str, dict[str, str]],
    *,
    root: Path,
    stack_name: str = "ktp-local",
    region: str,
    parameter_values: dict[str, Any] | None = None,
    submit_id: str = "SubmitFunction",
    scheduled_ids: tuple[str, ...] = ("PollerFunction",),
    before_notification: Any = None,
) -> ProvisionedResources:
    """Create the translated template ``cfn`` as a moto CloudFormation stack, then fill what moto
    leaves out: secrets (with the local values), table TTL, bucket versioning, and the upload
    notification, which locally goes to a queue the submit worker reads. ``before_notification``
    runs after the bucket exists and before S3 starts notifying (a restored snapshot must not
    re-trigger jobs)."""
    cloudformation, secretsmanager, dynamodb, s3, sqs, awslambda = (
        client(name, endpoint_url, region) for name in ("cloudformation", "secretsmanager", "dynamodb", "s3", "sqs", "lambda")
    )
    # The same names on every start: the bucket name comes from the stack id, job ids and records
    # (and a restored snapshot) name the bucket, and moto draws ids from its own random generator.
    seed = zlib.crc32(f"{LOCAL_ACCOUNT_ID}:{region}:{stack_name}".encode())
    _moto_api(endpoint_url, "seed", a=seed)
    secret_arns = {}
    for logical_id in resources_of_type(cfn, "AWS::SecretsManager::Secret"):
        if logical_id not in secrets:
            log.warning("secret %s has no local value; storing an empty JSON object", logical_id)
        secret_arns[logical_id] = secretsmanager.create_secret(
            Name=f"{stack_name}-{logical_id}", SecretString=json.dumps(secrets.get(logical_id, {}))
        )["ARN"]
    template = _for_moto(cfn, secret_arns, _gap_outputs(cfn, submit_id, scheduled_ids))
    parameters = {**{k: _cfn_string(v) for k, v in (parameter_values or {}).items()}, **secret_arns}
    stack_id = cloudformation.create_stack(
        StackName=stack_name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
    )["StackId"]
    stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
    # ... and unpredictable ids again for what follows (object versions, message ids).
    _moto_api(endpoint_url, "seed", a=secrets_module.randbits(32))
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise TemplateError(f"moto could not create the stack: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    gaps = {o["OutputKey"].removeprefix(_OUTPUT_PREFIX): json.loads(o["OutputValue"])
            for o in stack["Outputs"] if o["OutputKey"].startswith(_OUTPUT_PREFIX)}
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cloudformation.describe_stack_resources(StackName=stack_id)["StackResources"]
                if r.get("PhysicalResourceId")}
    physical.update(secret_arns)

    bucket_id, _ = s3_notification(cfn, submit_id)
    (table_id,) = [name for name in resources_of_type(cfn, "AWS::DynamoDB::Table")]
    resources = ProvisionedResources(
        bucket=physical[bucket_id], table=physical[table_id], trigger=s3_trigger(bucket_id, gaps["Notification"]),
        physical_ids=physical, schedules={f: gaps[f"Schedule{f}"] for f in scheduled_ids if f"Schedule{f}" in gaps},
    )
    for name, ttl in gaps.items():
        if name.startswith("Ttl") and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(TableName=physical[name.removeprefix("Ttl")],
                                         TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]})
    if gaps["Versioning"].get("Status"):
        s3.put_bucket_versioning(Bucket=resources.bucket, VersioningConfiguration={"Status": gaps["Versioning"]["Status"]})

    for logical_id in resources_of_type(cfn, "AWS::Lambda::Function"):
        configuration = awslambda.get_function_configuration(FunctionName=physical[logical_id])
        code_dir, layer_dirs = function_code(cfn, root, logical_id)
        module, _, function = configuration["Handler"].rpartition(".")
        resources.function_arns[logical_id] = configuration["FunctionArn"]
        resources.functions[logical_id] = FunctionSpec(
            logical_id=logical_id, code_dir=code_dir, handler_module=module, handler_function=function,
            layer_dirs=layer_dirs, timeout_seconds=int(configuration["Timeout"]), memory_mb=int(configuration["MemorySize"]),
            environment={k: _cfn_string(v) for k, v in ((configuration.get("Environment") or {}).get("Variables") or {}).items()},
        )

    if before_notification is not None:
        before_notification(resources)

    # Lambda can be an S3 notification target only in AWS; locally S3 notifies a queue and the
    # submit worker turns each message back into the event Lambda would have received.
    events_queue = f"{stack_name}-{EVENTS_QUEUE_SUFFIX}"
    resources.events_queue_url = sqs.create_queue(QueueName=events_queue, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    resources.events_queue_arn = sqs.get_queue_attributes(
        QueueUrl=resources.events_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    trigger = resources.trigger
    rules = [{"Name": name, "Value": value} for name, value in (("prefix", trigger.prefix), ("suffix", trigger.suffix)) if value]
    queue_configuration: dict[str, Any] = {"QueueArn": resources.events_queue_arn, "Events": list(trigger.events)}
    if rules:
        queue_configuration["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(
        Bucket=resources.bucket, NotificationConfiguration={"QueueConfigurations": [queue_configuration]}
    )
    _provision_completion_events(resources, gaps, stack_name, endpoint_url, region)
    return resources


def _provision_completion_events(resources: ProvisionedResources, gaps: dict[str, Any], stack_name: str,
                                 endpoint_url: str, region: str) -> None:
    """The Pipes of the template, resolved, for :class:`local.completion_events.PipeRunner`; and the
    local target of their bus: a rule delivering its events to a queue tests and tools read."""
    for name, properties in gaps.items():
        if name.startswith("Pipe"):
            resources.pipes[name.removeprefix("Pipe")] = PipeSpec.from_properties(name.removeprefix("Pipe"), properties)
    buses = {spec.target_arn.rpartition("/")[2]: spec.source for spec in resources.pipes.values()}
    if len(buses) != 1:
        return  # a template without the completion-events pipe (or with several buses) gets no local target
    (bus, source), = buses.items()
    resources.completion_event_bus = bus
    resources.completion_events_queue_url, _ = subscribe_queue(
        client("events", endpoint_url, region), client("sqs", endpoint_url, region), bus_name=bus, source=source,
        queue_name=f"{stack_name}-completion-events", rule_name=f"{stack_name}-completion-events-to-queue",
    )


def _cfn_string(value: Any) -> str:
    """Parameter and Lambda environment values are strings; YAML booleans become ``true``/``false``."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
