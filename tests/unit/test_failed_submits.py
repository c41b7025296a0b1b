"""`ktp redrive --failed-submits`: the S3 event is taken from either message form and delivered
before its message is deleted; a message without an event stays on the queue."""

import json

import boto3

from local.failed_submits import replay, s3_event_of

from .conftest import REGION, load_event


def test_the_event_comes_from_an_invocation_record_or_a_plain_notification():
    event = load_event("s3_put.json")
    record = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event,
              "responseContext": {"statusCode": 200, "functionError": "Unhandled"}}
    assert s3_event_of(json.dumps(record)) == event
    assert s3_event_of(json.dumps(event)) == event
    assert s3_event_of("not json") is None
    assert s3_event_of(json.dumps({"requestPayload": {"Records": []}})) is None


def test_replay_delivers_then_deletes_and_keeps_what_it_cannot_read(stack):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="submit-failures-test")["QueueUrl"]
    event = load_event("s3_put.json")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": event}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=url, MessageBody="garbage")
    delivered = []
    count = replay(sqs, url, delivered.append)
    assert (count.sent, count.kept) == (2, 1)
    assert delivered == [event, event]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1
