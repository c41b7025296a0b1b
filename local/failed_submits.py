"""``ktp redrive --failed-submits``: send the S3 events on SubmitFailureQueue to the submit function again.

Why not SQS's own redrive (``StartMessageMoveTask``): it only moves messages out of a queue that is
the dead-letter queue of another SQS queue, into a queue. SubmitFailureQueue is a Lambda
asynchronous-invocation *on-failure destination* (S3 invokes SubmitFunction directly; template.yaml,
``EventInvokeConfig``): no SQS queue has it as its DLQ, there is no source queue to move back to,
and its messages are invocation records (``requestPayload`` = the S3 event), not events a queue
could feed to the function. moto 5.2.5 has no ``StartMessageMoveTask`` either. The closest honest
thing is what this does, the same on both stacks: take each record's S3 event, invoke the function
asynchronously with it (on AWS ``lambda:InvokeFunction``, ``InvocationType=Event``; locally put it on
the queue that stands in for S3 → Lambda), and delete the message only after that was accepted.
Replaying is safe: the submit path is idempotent per object version (a job that was created
meanwhile answers "duplicate"), so nothing is billed twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local.aws_clients import EVENTS_QUEUE_SUFFIX, client
from local.state import StackInfo

FAILURE_QUEUE = "SubmitFailureQueue"
SUBMIT_FUNCTION = "SubmitFunction"


@dataclass
class ReplayCount:
    sent: int = 0
    kept: int = 0  # messages that hold no S3 event: left on the queue for a human


def s3_event_of(body: str) -> dict[str, Any] | None:
    """The S3 event in a failure-queue message: an on-failure invocation record's ``requestPayload``
    (AWS), or the S3 notification itself (what the local submit worker records). None otherwise."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("requestPayload"), dict):
        document = document["requestPayload"]
    if isinstance(document, dict) and isinstance(document.get("Records"), list) and document["Records"]:
        return document
    return None


def replay(sqs: Any, failure_queue_url: str, deliver: Any, *, limit: int = 1000) -> ReplayCount:
    """Receive up to `limit` messages; deliver each one's S3 event, then delete it. A message without
    an event stays (invisible for a minute, then back on the queue)."""
    count = ReplayCount()
    while count.sent + count.kept < limit:
        messages = sqs.receive_message(QueueUrl=failure_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return count
        for message in messages:
            event = s3_event_of(message["Body"])
            if event is None:
                count.kept += 1
                continue
            deliver(event)
            sqs.delete_message(QueueUrl=failure_queue_url, ReceiptHandle=message["ReceiptHandle"])
            count.sent += 1
    return count


def replay_failed_submits(info: StackInfo, *, limit: int = 1000) -> ReplayCount:
    """Find the stack's queue (and function) through its CloudFormation stack, local or deployed."""
    cloudformation = client("cloudformation", info.endpoint_url, info.region)
    sqs = client("sqs", info.endpoint_url, info.region)

    def physical(logical_id: str) -> str:
        if info.kind != "local":
            detail = cloudformation.describe_stack_resource(StackName=info.stack_name, LogicalResourceId=logical_id)
            return detail["StackResourceDetail"]["PhysicalResourceId"]
        # moto 5.2.5 answers DescribeStackResource (and a LogicalResourceId filter) with a 500, as one
        # of its resources has no LogicalResourceId: list them all (fewer than 100 here) and pick.
        found = cloudformation.describe_stack_resources(StackName=info.stack_name)["StackResources"]
        return next(r["PhysicalResourceId"] for r in found if r.get("LogicalResourceId") == logical_id)

    if info.kind == "local":
        events_queue = sqs.get_queue_url(QueueName=f"{info.stack_name}-{EVENTS_QUEUE_SUFFIX}")["QueueUrl"]

        def deliver(event: dict[str, Any]) -> None:
            sqs.send_message(QueueUrl=events_queue, MessageBody=json.dumps(event))
    else:
        awslambda, function = client("lambda", info.endpoint_url, info.region), physical(SUBMIT_FUNCTION)

        def deliver(event: dict[str, Any]) -> None:
            awslambda.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
    return replay(sqs, physical(FAILURE_QUEUE), deliver, limit=limit)
