"""The submit worker against moto's SQS: test events skipped, success deletes, failures retried
with backoff and then recorded on the failure queue (never silently dropped)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from local.aws import MotoServer
from local.aws_clients import client
from local.functions import InvocationError
from local.submit_worker import MAX_RECEIVES, SubmitWorker

from .conftest import s3_event_body, wait_for

REGION = "ap-southeast-3"


@dataclass
class FakeFunction:
    """Stands in for LocalFunction: records events, fails for keys containing 'bad'."""

    def __post_init__(self) -> None:
        self.config = SimpleNamespace(spec=SimpleNamespace(timeout_seconds=5))
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def invoke(self, event: dict) -> dict:
        with self.lock:
            self.events.append(event)
        if "bad" in event["Records"][0]["s3"]["object"]["key"]:
            raise InvocationError("SubmitFunction", "RuntimeError")
        return {"outcomes": []}


@pytest.fixture
def queues():
    server = MotoServer()
    endpoint = server.start()
    sqs = client("sqs", endpoint, REGION)
    events = sqs.create_queue(QueueName="events")["QueueUrl"]
    failures = sqs.create_queue(QueueName="failures")["QueueUrl"]
    yield sqs, events, failures
    server.stop()


def test_messages_are_handled_retried_and_recorded(queues) -> None:
    sqs, events_url, failures_url = queues
    function = FakeFunction()
    sqs.send_message(QueueUrl=events_url, MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    good = s3_event_body("b", "incoming/good.jpg", etag="e1", version_id="v1", size=1, region=REGION)
    bad = s3_event_body("b", "incoming/bad.jpg", etag="e2", version_id="v2", size=1, region=REGION)
    sqs.send_message(QueueUrl=events_url, MessageBody=good)
    sqs.send_message(QueueUrl=events_url, MessageBody=bad)
    sqs.send_message(QueueUrl=events_url, MessageBody="not json")

    worker = SubmitWorker(function, sqs, events_url, failure_queue_url=failures_url, concurrency=2, wait_seconds=1)
    worker.start()
    try:
        # The bad event is retried with 2 s then 4 s backoff before it is given up on.
        wait_for(lambda: worker.failed >= 2, timeout=60, what="the bad event and the garbage to be recorded")
    finally:
        worker.stop()

    assert worker.processed == 1
    assert worker.skipped_test_events == 1
    bad_attempts = [e for e in function.events if e["Records"][0]["s3"]["object"]["key"] == "incoming/bad.jpg"]
    assert len(bad_attempts) == MAX_RECEIVES
    # The event reaches the function exactly as queued (plus the fields AWS always sends).
    good_event = next(e for e in function.events if e["Records"][0]["s3"]["object"]["key"] == "incoming/good.jpg")
    assert good_event["Records"][0]["s3"]["object"]["versionId"] == "v1"

    recorded = sqs.receive_message(QueueUrl=failures_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    reasons = sorted(message["MessageAttributes"]["ErrorType"]["StringValue"] for message in recorded)
    assert reasons == ["NotAnS3Event", "RuntimeError"]
    assert any(message["Body"] == bad for message in recorded)  # the original event, replayable
    remaining = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["ApproximateNumberOfMessages",
                                                                               "ApproximateNumberOfMessagesNotVisible"])
    assert remaining["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
