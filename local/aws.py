"""The AWS side of the local stack: a moto server on 127.0.0.1 and the resources the template
declares (bucket + its S3 → SQS notification, jobs table with keys/GSIs/TTL, secrets, queues)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from local.template import StackTemplate

log = logging.getLogger("ktp.local.aws")

# moto accepts any credentials; these are what `aws --endpoint-url` users should export.
LOCAL_ACCESS_KEY_ID = "testing"
LOCAL_SECRET_ACCESS_KEY = "testing"
EVENTS_QUEUE_SUFFIX = "local-s3-events"


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
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(port) from None


class PortInUse(OSError):
    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} on 127.0.0.1 is in use (another `ktp up`?); choose --port-base, or 0 for free ports")
        self.port = port


class MotoServer:
    """``moto.server.ThreadedMotoServer`` bound to 127.0.0.1 (port 0 picks a free port)."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self.port = port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        # One werkzeug line per AWS call would drown everything else (and object keys are personal).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.endpoint_url = ""

    def start(self) -> str:
        # ThreadedMotoServer waits forever if its thread cannot bind: find out first.
        if self.port:
            ensure_port_free(self.port)
        _install_s3_event_fixes()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto's backends are process-wide: start from nothing, even if this process ran a stack
        # (or a moto mock) before. What should survive comes back from the snapshot.
        import httpx

        httpx.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        return self.endpoint_url

    def stop(self) -> None:
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


def aws_session(region: str) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY, region_name=region
    )


def client(service: str, endpoint_url: str | None, region: str) -> Any:
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    if endpoint_url is None:  # a deployed stack: the caller's own credentials
        return boto3.client(service, region_name=region, config=config)
    return aws_session(region).client(service, endpoint_url=endpoint_url, config=config)


@dataclass
class ProvisionedResources:
    """Physical names of what was created, keyed the way the template refers to them."""

    bucket: str
    table: str
    events_queue_url: str
    events_queue_arn: str
    secret_arns: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id -> URL (template queues)


def physical_name(template: StackTemplate, logical_id: str, name_property: str, *, lower: bool = False) -> str:
    """The template's explicit name, or ``<stack>-<LogicalId>`` like CloudFormation would generate."""
    name = template.physical_name(logical_id, name_property)
    if not name:
        name = f"{template.resolver.stack_name}-{logical_id}"
    return name.lower() if lower else name


def provision(
    template: StackTemplate,
    endpoint_url: str,
    secrets: dict[str, dict[str, str]],
    *,
    before_notification: Any = None,
) -> ProvisionedResources:
    """Create every emulated resource and record physical ids in ``template.resolver`` so the
    functions' environment resolves to them. ``before_notification(resources)`` runs after the
    bucket exists and before S3 starts notifying (restoring a snapshot must not re-trigger jobs)."""
    region = template.resolver.region
    account = template.resolver.account_id
    resolver = template.resolver
    s3 = client("s3", endpoint_url, region)
    sqs = client("sqs", endpoint_url, region)
    dynamodb = client("dynamodb", endpoint_url, region)
    secretsmanager = client("secretsmanager", endpoint_url, region)

    trigger = template.s3_trigger()
    bucket = physical_name(template, trigger.bucket_logical_id, "BucketName", lower=True)
    create_bucket: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create_bucket["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create_bucket)
    versioning = (template.properties(trigger.bucket_logical_id).get("VersioningConfiguration") or {})
    if template.resolve(versioning).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    resolver.refs[trigger.bucket_logical_id] = bucket
    resolver.attributes[(trigger.bucket_logical_id, "Arn")] = f"arn:aws:s3:::{bucket}"
    resolver.attributes[(trigger.bucket_logical_id, "DomainName")] = f"{bucket}.s3.amazonaws.com"

    table = physical_name(template, "JobsTable", "TableName")
    dynamodb.create_table(TableName=table, **template.table_definition("JobsTable"))
    ttl_attribute = template.table_ttl_attribute("JobsTable")
    if ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
    resolver.refs["JobsTable"] = table
    resolver.attributes[("JobsTable", "Arn")] = f"arn:aws:dynamodb:{region}:{account}:table/{table}"

    resources = ProvisionedResources(bucket=bucket, table=table, events_queue_url="", events_queue_arn="")
    for logical_id in template.resources_of_type("AWS::SecretsManager::Secret"):
        name = physical_name(template, logical_id, "Name")
        value = secrets.get(logical_id)
        if value is None:
            log.warning("secret %s has no local value; storing an empty JSON object", logical_id)
            value = {}
        arn = secretsmanager.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        resources.secret_arns[logical_id] = arn
        resolver.refs[logical_id] = arn
        resolver.attributes[(logical_id, "Id")] = arn

    for logical_id in template.resources_of_type("AWS::SQS::Queue"):
        props = template.properties(logical_id)
        name = physical_name(template, logical_id, "QueueName")
        attributes = {"FifoQueue": "true"} if template.resolve(props.get("FifoQueue")) in (True, "true") else {}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        resources.queue_urls[logical_id] = url
        resolver.refs[logical_id] = url
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{region}:{account}:{name}"
        resolver.attributes[(logical_id, "QueueName")] = name

    for logical_id in template.functions():
        name = f"{resolver.stack_name}-{logical_id}"
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{region}:{account}:function:{name}"
    for logical_id in template.resources_of_type("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"):
        resolver.refs[logical_id] = "local"
        resolver.attributes[(logical_id, "ApiEndpoint")] = "http://127.0.0.1"

    if before_notification is not None:
        before_notification(resources)

    # Lambda can be an S3 notification target only in AWS; locally S3 notifies a queue and the
    # submit worker turns each message back into the event Lambda would have received.
    events_queue = f"{resolver.stack_name}-{EVENTS_QUEUE_SUFFIX}"
    resources.events_queue_url = sqs.create_queue(
        QueueName=events_queue, Attributes={"VisibilityTimeout": "60"}
    )["QueueUrl"]
    resources.events_queue_arn = f"arn:aws:sqs:{region}:{account}:{events_queue}"
    rules = [{"Name": name, "Value": value} for name, value in (("prefix", trigger.prefix), ("suffix", trigger.suffix)) if value]
    queue_configuration: dict[str, Any] = {"QueueArn": resources.events_queue_arn, "Events": list(trigger.events)}
    if rules:
        queue_configuration["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue_configuration]}
    )
    return resources
