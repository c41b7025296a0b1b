"""moto provisioning of template.yaml's translation, the gaps moto's CloudFormation leaves (secrets,
TTL, versioning, the upload notification), S3 → SQS notifications as AWS sends them, and the
snapshot that carries state across restarts. No extractor, no handlers: fast."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from local import snapshot
from local.aws import MotoServer, pin_object_version, provision
from local.aws_clients import client
from local.events import s3_event_from_message
from local.template import load_template, translate

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-southeast-3"
SECRETS = {"ProviderSecret": {"app_id": "a", "api_key": "k"}, "CallbackSecret": {"username": "u", "password": "p"}}


@pytest.fixture
def moto_endpoint():
    server = MotoServer()
    endpoint = server.start()
    yield endpoint
    server.stop()


def fresh(endpoint: str, stack_name: str, before_notification=None):
    # moto's state is process-wide: a stack name per test keeps resources apart.
    # Provider=external, as the local stack runs it: moto cannot create the nested extractor stack.
    overrides = {"Provider": "external"}
    cfn = translate(load_template(REPO / "template.yaml"), overrides, region=REGION)
    return cfn, provision(cfn, endpoint, SECRETS, root=REPO, stack_name=stack_name, region=REGION,
                          parameter_values=overrides, before_notification=before_notification)


def receive_all(sqs, url: str) -> list[dict]:
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_resources_follow_the_template(moto_endpoint: str) -> None:
    cfn, resources = fresh(moto_endpoint, stack_name="prov-a")
    dynamodb = client("dynamodb", moto_endpoint, REGION)
    table = dynamodb.describe_table(TableName=resources.table)["Table"]
    declared = cfn["Resources"]["JobsTable"]["Properties"]
    assert table["KeySchema"] == declared["KeySchema"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index["IndexName"] for index in declared["GlobalSecondaryIndexes"]}
    for index in declared["GlobalSecondaryIndexes"]:
        assert indexes[index["IndexName"]]["KeySchema"] == index["KeySchema"]
        assert indexes[index["IndexName"]]["Projection"]["ProjectionType"] == index["Projection"]["ProjectionType"]
    ttl = dynamodb.describe_time_to_live(TableName=resources.table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == declared["TimeToLiveSpecification"]["AttributeName"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"

    secrets = client("secretsmanager", moto_endpoint, REGION)
    value = secrets.get_secret_value(SecretId=resources.physical_ids["CallbackSecret"])["SecretString"]
    assert json.loads(value) == {"username": "u", "password": "p"}
    queues = {name for name, resource in cfn["Resources"].items() if resource["Type"] == "AWS::SQS::Queue"}
    assert queues == {"SubmitFailureQueue", "PollerDeadLetterQueue", "CompletionEventsDeadLetterQueue"}
    sqs = client("sqs", moto_endpoint, REGION)
    for name in queues:  # !Ref of a queue is its URL
        assert sqs.get_queue_attributes(QueueUrl=resources.physical_ids[name], AttributeNames=["QueueArn"])

    # Completion events: the stream exists, the Pipe (which moto only skips) is resolved against it,
    # and its bus routes to the local queue.
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    (pipe,) = resources.pipes.values()
    assert pipe.source_arn == table["LatestStreamArn"]
    assert pipe.target_arn.endswith(f":event-bus/{resources.completion_event_bus}")
    assert pipe.dead_letter_arn == sqs.get_queue_attributes(
        QueueUrl=resources.physical_ids["CompletionEventsDeadLetterQueue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    (rule,) = client("events", moto_endpoint, REGION).list_rules(EventBusName=resources.completion_event_bus)["Rules"]
    assert json.loads(rule["EventPattern"]) == {"source": [pipe.source]}
    assert resources.completion_events_queue_url

    s3 = client("s3", moto_endpoint, REGION)
    assert s3.get_bucket_versioning(Bucket=resources.bucket)["Status"] == "Enabled"
    # The functions' environment resolves to these physical resources.
    env = resources.functions["SubmitFunction"].environment
    assert env["JOBS_TABLE_NAME"] == resources.table
    assert env["PROVIDER_SECRET_ID"] == resources.physical_ids["ProviderSecret"]
    assert resources.functions["CallbackFunction"].environment["CALLBACK_SECRET_ID"] == resources.physical_ids["CallbackSecret"]


def test_uploads_under_the_prefix_notify_with_aws_shaped_records(moto_endpoint: str) -> None:
    _, resources = fresh(moto_endpoint, stack_name="prov-b")
    s3 = client("s3", moto_endpoint, REGION)
    sqs = client("sqs", moto_endpoint, REGION)
    prefix = resources.trigger.prefix
    assert prefix == "incoming/"  # the UploadPrefix default
    key = f"{prefix}kartu saya+ñ.jpg"
    put = s3.put_object(Bucket=resources.bucket, Key=key, Body=b"jpeg bytes")
    s3.put_object(Bucket=resources.bucket, Key="elsewhere/ignored.jpg", Body=b"x")

    bodies = receive_all(sqs, resources.events_queue_url)
    events = [s3_event_from_message(json.dumps(body)) for body in bodies]
    assert None in events  # the s3:TestEvent sent when the notification was configured
    (event,) = [event for event in events if event is not None]
    (record,) = event["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == resources.bucket
    assert record["s3"]["object"]["key"] == "incoming/kartu+saya%2B%C3%B1.jpg"  # URL-encoded like S3, slashes kept
    assert record["s3"]["object"]["versionId"] == put["VersionId"]  # versioned bucket: AWS sends it
    assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')


def test_snapshot_round_trip(moto_endpoint: str, tmp_path: Path) -> None:
    _, first = fresh(moto_endpoint, stack_name="snap-a")
    s3 = client("s3", moto_endpoint, REGION)
    dynamodb = client("dynamodb", moto_endpoint, REGION)
    sqs = client("sqs", moto_endpoint, REGION)
    receive_all(sqs, first.events_queue_url)
    old = s3.put_object(Bucket=first.bucket, Key="incoming/a b.jpg", Body=b"old version", ContentType="image/jpeg")
    receive_all(sqs, first.events_queue_url)
    current = s3.put_object(Bucket=first.bucket, Key="incoming/a b.jpg", Body=b"\xff\xd8image", ContentType="image/jpeg")
    dynamodb.put_item(TableName=first.table, Item={"reference_id": {"S": "ktp-1"}, "status": {"S": "COMPLETED"},
                                                    "blob": {"B": b"\x00\x01"}, "n": {"N": "3"}})
    counts = snapshot.save(tmp_path, s3=s3, dynamodb=dynamodb, sqs=sqs, bucket=first.bucket, table=first.table,
                           events_queue_url=first.events_queue_url)
    assert counts == {"items": 1, "objects": 2, "pending_events": 1}  # two versions; the last upload's event still queued
    assert (tmp_path / snapshot.SNAPSHOT_DIR).stat().st_mode & 0o777 == 0o700

    restored: dict = {}

    def restore(resources) -> None:
        restored.update(snapshot.restore_data(
            tmp_path, s3=s3, dynamodb=dynamodb, bucket=resources.bucket, table=resources.table,
            pin_version=lambda key, new, old: pin_object_version(resources.bucket, key, new, old),
        ))

    _, second = fresh(moto_endpoint, stack_name="snap-b", before_notification=restore)
    assert restored == {"items": 1, "objects": 2}  # both versions
    # Restoring happened before notifications: only the test event is queued, no new job event ...
    assert [body.get("Event") for body in receive_all(sqs, second.events_queue_url)] == ["s3:TestEvent"]
    # ... and the event that was pending at stop is re-queued.
    assert snapshot.restore_events(tmp_path, sqs=sqs, events_queue_url=second.events_queue_url) == 1
    (pending,) = receive_all(sqs, second.events_queue_url)
    assert pending["Records"][0]["s3"]["object"]["key"] == "incoming/a+b.jpg"

    item = dynamodb.get_item(TableName=second.table, Key={"reference_id": {"S": "ktp-1"}})["Item"]
    assert item["blob"]["B"] == b"\x00\x01"
    assert item["n"]["N"] == "3"
    obj = s3.get_object(Bucket=second.bucket, Key="incoming/a b.jpg")
    assert obj["Body"].read() == b"\xff\xd8image"
    assert obj["ContentType"] == "image/jpeg"
    # Version ids survive, so records and the re-queued event still name existing versions.
    assert obj["VersionId"] == current["VersionId"]
    assert pending["Records"][0]["s3"]["object"]["versionId"] == current["VersionId"]
    older = s3.get_object(Bucket=second.bucket, Key="incoming/a b.jpg", VersionId=old["VersionId"])
    assert older["Body"].read() == b"old version"


def test_a_restart_gets_the_same_names(moto_endpoint: str) -> None:
    """Job ids and records name the bucket, whose name CloudFormation derives from the stack id:
    a restarted stack must come back with the same bucket (and table, functions, secrets)."""
    _, first = fresh(moto_endpoint, stack_name="again")
    httpx.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()  # as a new `ktp up` does
    _, second = fresh(moto_endpoint, stack_name="again")
    assert second.bucket == first.bucket
    assert second.table == first.table
    assert second.physical_ids == first.physical_ids
    assert second.function_arns == first.function_arns
    _, other = fresh(moto_endpoint, stack_name="another")
    assert other.bucket != first.bucket  # each stack name its own bucket, as the stack id differs


def test_stopping_a_moto_server_whose_start_was_interrupted_returns(monkeypatch):
    """Ctrl-C while moto's thread is still creating its server: stop() must not wait for that thread."""
    import threading

    from moto.moto_server import threaded_moto_server

    release, real_make_server = threading.Event(), threaded_moto_server.make_server

    def slow_make_server(*args, **kwargs):
        release.wait(10)
        return real_make_server(*args, **kwargs)

    def interrupted_wait(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(threaded_moto_server, "make_server", slow_make_server)
    server = MotoServer()
    monkeypatch.setattr(server._server._server_ready_event, "wait", interrupted_wait)
    with pytest.raises(KeyboardInterrupt):
        server.start()
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(5)
    try:
        assert not stopping.is_alive(), "stop() waits for a server that was never up"
    finally:
        release.set()  # let moto's thread come up, then end it
        monkeypatch.undo()
        server._server._server_ready_event.wait(10)
        server._server.stop()
