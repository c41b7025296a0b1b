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


def test_on_a_deployed_stack_the_events_go_to_the_submit_function_asynchronously(stack, monkeypatch):
    from local import failed_submits
    from local.state import StackInfo

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="deployed-submit-failures")["QueueUrl"]
    event = load_event("s3_put.json")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": event}))
    invoked = []

    class CloudFormation:
        def describe_stack_resource(self, StackName, LogicalResourceId):
            assert StackName == "ktp-prod"
            physical = {"SubmitFailureQueue": url, "SubmitFunction": "ktp-prod-SubmitFunction-1"}[LogicalResourceId]
            return {"StackResourceDetail": {"PhysicalResourceId": physical}}

    class Lambda:
        def invoke(self, **request):
            invoked.append(request)
            return {"StatusCode": 202}

    fakes = {"cloudformation": CloudFormation(), "lambda": Lambda(), "sqs": sqs}
    monkeypatch.setattr(failed_submits, "client", lambda service, endpoint, region: fakes[service])
    info = StackInfo(kind="cloudformation", stack_name="ktp-prod", region=REGION, bucket="b", table="t")
    assert failed_submits.replay_failed_submits(info).sent == 1
    [request] = invoked
    assert (request["FunctionName"], request["InvocationType"]) == ("ktp-prod-SubmitFunction-1", "Event")
    assert json.loads(request["Payload"]) == event
