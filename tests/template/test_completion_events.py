"""Completion events: the Pipe, its bus and its role in the translated template, and what the Pipe's
own FilterCriteria and InputTemplate (as the template states them) make of DynamoDB stream records.

The records are built by hand in the stream's wire shape; the same logic runs the Pipe in the local
stack (local/completion_events.py, with moto's EventBridge pattern matcher).
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
from template_tools import IntrinsicEvaluator, as_list, translate

from local.completion_events import MISSING, PipeSpec, dynamic_parameter, json_path, render_input_template

TERMINAL = ("COMPLETED", "FAILED", "REJECTED", "TIMED_OUT")
NIK = "3171234567890001"
STREAM_ARN = "arn:aws:dynamodb:ap-southeast-3:123456789012:table/jobs/stream/2026-12-01T00:00:00.000"
BUS_ARN = "arn:aws:events:ap-southeast-3:123456789012:event-bus/ktp-completion-events"
# What a detail may hold; everything else in an item (result, object_key, ...) is left out.
DETAIL_KEYS = {"version", "reference_id", "status", "error_code", "bucket", "created_at", "finished_at", "result_source"}


def _pipe(cfn, **parameters) -> tuple[dict, PipeSpec]:
    evaluator = IntrinsicEvaluator(cfn, parameters)
    properties = evaluator.evaluate(cfn["Resources"]["CompletionEventsPipe"]["Properties"])
    assert properties["Source"] == "<JobsTable.StreamArn>" and properties["Target"] == "<CompletionEventBus.Arn>"
    resolved = {**properties, "Source": STREAM_ARN, "Target": BUS_ARN}
    return properties, PipeSpec.from_properties("CompletionEventsPipe", resolved)


@pytest.fixture(scope="module")
def pipe(cfn) -> PipeSpec:
    return _pipe(cfn)[1]


@pytest.fixture(scope="module")
def pipe_with_keys() -> PipeSpec:
    return _pipe(translate({"EventsIncludeObjectKey": "true"}), EventsIncludeObjectKey="true")[1]


def _image(status: str, **extra) -> dict:
    item = {
        "reference_id": {"S": "ktp-49a6f8f207f947cc0fb37570cc0b1da5a1e9a0b6"}, "status": {"S": status},
        "status_reason": {"S": "Extraction completed."}, "bucket": {"S": "ktp-uploads-bucket"},
        "object_key": {"S": f"incoming/{NIK} BUDI SANTOSO.jpg"}, "created_at": {"S": "2026-11-27T07:00:01.204Z"},
        "updated_at": {"S": "2026-11-27T07:00:09.930Z"}, "expires_at": {"N": "1798354809"},
    }
    if status in TERMINAL:
        item["completed_at"] = {"S": "2026-11-27T07:00:09.930Z"}
    if status == "COMPLETED":
        item["result_source"] = {"S": "callback"}
        item["result"] = {"M": {"fields": {"M": {"nik": {"S": NIK}, "full_name": {"S": "BUDI SANTOSO"}}},
                                "extra": {"M": {"raw_text": {"M": {"nik": {"S": NIK}}}}}}}
    item.update(extra)
    return item


_EVENT_IDS = itertools.count(1)  # each stream record has its own id, as on AWS


def _record(event_name: str, old: dict | None, new: dict | None) -> dict:
    dynamodb = {"ApproximateCreationDateTime": 1795762809, "Keys": {"reference_id": (new or old)["reference_id"]},
                "SequenceNumber": "100", "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    return {"eventID": f"event-{next(_EVENT_IDS)}", "eventName": event_name, "eventSource": "aws:dynamodb", "eventVersion": "1.1",
            "awsRegion": "ap-southeast-3", "dynamodb": dynamodb}


# --------------------------------------------------------------------------- the resources


def test_the_table_streams_both_images_into_the_pipe(resources):
    assert resources["JobsTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    pipe = resources["CompletionEventsPipe"]["Properties"]
    assert pipe["Source"] == {"Fn::GetAtt": ["JobsTable", "StreamArn"]}
    assert pipe["Target"] == {"Fn::GetAtt": ["CompletionEventBus", "Arn"]}
    assert "Enrichment" not in pipe  # no code of ours between the table and the bus
    stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
    assert stream["StartingPosition"] == "LATEST"
    assert stream["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["CompletionEventsDeadLetterQueue", "Arn"]}}
    assert 0 <= stream["MaximumRetryAttempts"] <= 185  # bounded: a poisoned batch cannot block the shard forever
    assert stream["BatchSize"] <= 10  # one PutEvents call


def test_bus_source_and_detail_type(resources):
    assert resources["CompletionEventBus"]["Type"] == "AWS::Events::EventBus"
    bus = resources["CompletionEventsPipe"]["Properties"]["TargetParameters"]["EventBridgeEventBusParameters"]
    assert bus["Source"] == "ktp.pipeline" and not bus["Source"].startswith("aws.")
    assert bus["DetailType"] == "$.dynamodb.NewImage.status.S"


def test_outputs_name_the_bus(cfn):
    outputs = cfn["Outputs"]
    assert outputs["CompletionEventBusName"]["Value"] == {"Ref": "CompletionEventBus"}
    assert outputs["CompletionEventBusArn"]["Value"] == {"Fn::GetAtt": ["CompletionEventBus", "Arn"]}


def test_the_pipe_role_reads_the_stream_and_puts_to_the_bus_only(resources, evaluator):
    pipe = resources["CompletionEventsPipe"]["Properties"]
    role = resources[pipe["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    grants = set()
    for policy in role["Policies"]:
        for statement in evaluator.evaluate(policy["PolicyDocument"])["Statement"]:
            assert statement["Effect"] == "Allow"
            grants |= {(a, r) for a in as_list(statement["Action"]) for r in as_list(statement["Resource"])}
    stream = "<JobsTable.StreamArn>"
    assert grants == {
        ("dynamodb:DescribeStream", stream), ("dynamodb:GetRecords", stream),
        ("dynamodb:GetShardIterator", stream), ("dynamodb:ListStreams", stream),
        ("events:PutEvents", "<CompletionEventBus.Arn>"),
        ("sqs:SendMessage", "<CompletionEventsDeadLetterQueue.Arn>"),
    }


def test_the_dead_letter_queue_has_an_alarm(resources):
    alarm = resources["CompletionEventsDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["CompletionEventsDeadLetterQueue", "QueueName"]}


def test_the_input_template_reads_only_non_personal_attributes(cfn):
    for parameters in ({}, {"EventsIncludeObjectKey": "true"}):
        properties, _ = _pipe(cfn, **parameters)
        template = properties["TargetParameters"]["InputTemplate"]
        json.loads(template)  # every placeholder is quoted: the template itself is valid JSON
        read = {path.split(".")[3] for path in re.findall(r"<(\$[^>]*)>", template)}
        allowed = {"reference_id", "status", "error_code", "bucket", "created_at", "completed_at", "result_source"}
        assert read == allowed | ({"object_key"} if parameters else set())


# --------------------------------------------------------------------------- filter and template


@pytest.mark.parametrize("status", TERMINAL)
def test_a_pending_job_becoming_terminal_emits_one_event(pipe, status):
    extra = {"error_code": {"S": "FAIL_ON_1"}} if status == "FAILED" else {}
    entry = pipe.entry_for(_record("MODIFY", _image("SUBMITTED"), _image(status, **extra)))
    assert entry is not None
    assert entry["Source"] == "ktp.pipeline" and entry["DetailType"] == status
    assert entry["EventBusName"] == BUS_ARN
    assert entry["Time"].isoformat() == "2026-11-27T07:00:09.930000+00:00"
    detail = json.loads(entry["Detail"])
    assert set(detail) == DETAIL_KEYS
    assert detail["reference_id"] == "ktp-49a6f8f207f947cc0fb37570cc0b1da5a1e9a0b6"
    assert detail["status"] == status and detail["bucket"] == "ktp-uploads-bucket"
    assert detail["created_at"] == "2026-11-27T07:00:01.204Z" and detail["finished_at"] == "2026-11-27T07:00:09.930Z"
    assert detail["error_code"] == ("FAIL_ON_1" if status == "FAILED" else "")
    assert detail["result_source"] == ("callback" if status == "COMPLETED" else "")


def test_an_item_created_terminal_emits_one_event(pipe):
    """An orphan callback: the item is written in its terminal status at once."""
    orphan = _image("COMPLETED", orphan_callback={"BOOL": True})
    del orphan["bucket"], orphan["object_key"]
    detail = json.loads(pipe.entry_for(_record("INSERT", None, orphan))["Detail"])
    assert detail["status"] == "COMPLETED" and detail["bucket"] == ""


@pytest.mark.parametrize(("old", "new"), [
    (None, "RECEIVED"),
    ("RECEIVED", "SUBMITTED"),
    ("SUBMITTED", "RETRY"),
    ("RETRY", "RETRY"),
    ("SUBMITTED", "SUBMITTED"),  # reschedule
])
def test_non_terminal_writes_emit_nothing(pipe, old, new):
    record = _record("INSERT" if old is None else "MODIFY", old and _image(old), _image(new))
    assert pipe.entry_for(record) is None


@pytest.mark.parametrize("status", TERMINAL)
def test_later_changes_of_a_terminal_item_emit_nothing(pipe, status):
    before = _image(status)
    erased = {k: v for k, v in before.items() if k not in ("result", "object_key")}
    linked = {**before, "redriven_as": {"S": "ktp-next"}}
    assert pipe.entry_for(_record("MODIFY", before, erased)) is None
    assert pipe.entry_for(_record("MODIFY", before, linked)) is None
    assert pipe.entry_for(_record("REMOVE", before, None)) is None  # TTL or an erasure deleting the item


def test_no_personal_data_in_the_event(pipe, pipe_with_keys):
    record = _record("MODIFY", _image("SUBMITTED"), _image("COMPLETED"))
    entry = pipe.entry_for(record)
    assert NIK not in json.dumps(entry, default=str) and "BUDI" not in json.dumps(entry, default=str)
    assert "object_key" not in json.loads(entry["Detail"])
    with_key = json.loads(pipe_with_keys.entry_for(record)["Detail"])
    assert with_key["object_key"] == f"incoming/{NIK} BUDI SANTOSO.jpg"  # only because the parameter says so
    assert set(with_key) == DETAIL_KEYS | {"object_key"}


def test_input_template_rendering_rules():
    record = {"a": {"S": 'say "hi"\n'}, "n": 3, "list": [{"x": 1}]}
    assert render_input_template('{"q": "<$.a.S>", "v": <$.n>, "o": <$.list[0]>, "m": "<$.none>", "u": <$.none>}', record) == \
        '{"q": "say \\"hi\\"\\n", "v": 3, "o": {"x": 1}, "m": "", "u": null}'
    assert render_input_template('"<aws.pipes.pipe-name>"', {}, {"aws.pipes.pipe-name": "p"}) == '"p"'
    with pytest.raises(ValueError):
        render_input_template("<aws.pipes.unknown>", {})
    assert json_path(record, "$.list[1]") is MISSING and json_path(record, "$.list[0].x") == 1
    assert dynamic_parameter("$.a.S", record) == 'say "hi"\n'
    assert dynamic_parameter("static", record) == "static" and dynamic_parameter("$.missing", record) is None


# --------------------------------------------------------------------------- the local runner's failures


class _Streams:
    def __init__(self, records):
        self.records = records

    def describe_stream(self, StreamArn):
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_):
        return {"ShardIterator": "it-0"}

    def get_records(self, ShardIterator, Limit):
        batch = self.records if ShardIterator == "it-0" else []
        return {"Records": batch[:Limit], "NextShardIterator": "it-1"}


class _FailingEvents:
    def __init__(self):
        self.calls = 0

    def put_events(self, Entries):
        self.calls += 1
        return {"Entries": [{"ErrorCode": "InternalFailure"} for _ in Entries], "FailedEntryCount": len(Entries)}


class _Sqs:
    def __init__(self):
        self.sent = []

    def get_queue_url(self, QueueName):
        return {"QueueUrl": f"http://sqs/{QueueName}"}

    def send_message(self, QueueUrl, MessageBody):
        self.sent.append((QueueUrl, json.loads(MessageBody)))


def test_undeliverable_events_go_to_the_dead_letter_queue_as_metadata_only(cfn):
    _, spec = _pipe(cfn)
    resolved = PipeSpec(**{**spec.__dict__, "dead_letter_arn": "arn:aws:sqs:ap-southeast-3:123456789012:pipe-dlq"})
    record = _record("MODIFY", _image("SUBMITTED"), _image("COMPLETED"))
    events, sqs = _FailingEvents(), _Sqs()
    from local.completion_events import PipeRunner

    runner = PipeRunner(resolved, streams=_Streams([record]), events=events, sqs=sqs)
    runner._iterators = {"shard-1": "it-0"}  # what start() sets up, without its thread
    assert runner.run_once() == 0
    assert events.calls == resolved.maximum_retry_attempts + 1  # the first try and every retry
    (queue_url, message), = sqs.sent
    assert queue_url == "http://sqs/pipe-dlq"
    assert message["shardId"] == "shard-1" and message["startSequenceNumber"] == "100" and message["batchSize"] == 1
    assert NIK not in json.dumps(message) and "reference_id" not in json.dumps(message)
    assert runner.run_once() == 0 and len(sqs.sent) == 1  # past the dead-lettered batch


class _Ticks:
    """Stands in for the runner's stop event: records each wait and stops after ``count`` of them."""

    def __init__(self, count):
        self.count, self.waits = count, []

    def wait(self, seconds):
        self.waits.append(seconds)
        return len(self.waits) > self.count

    def is_set(self):
        return False


class _Events:
    def put_events(self, Entries):
        return {"Entries": [{"EventId": str(n)} for n, _ in enumerate(Entries)], "FailedEntryCount": 0}


def test_the_runner_polls_fast_while_records_come_and_backs_off_to_once_a_second_when_idle(cfn):
    _, spec = _pipe(cfn)
    from local.completion_events import PipeRunner

    streams = _Streams([_record("MODIFY", _image("SUBMITTED"), _image("COMPLETED"))])
    runner = PipeRunner(spec, streams=streams, events=_Events(), sqs=_Sqs())
    runner._iterators = {"shard-1": "it-0"}
    runner._stop = _Ticks(7)
    runner._loop()  # read 1 finds the record; reads 2-7 are empty
    assert runner.delivered == 1
    assert runner._stop.waits == [0.2, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]

    streams.records = [_record("MODIFY", _image("SUBMITTED"), _image("FAILED"))]
    runner._iterators = {"shard-1": "it-0"}  # a new record: the next read finds it, the wait is short again
    runner._stop = _Ticks(3)
    runner._loop()
    assert runner.delivered == 2
    assert runner._stop.waits == [0.2, 0.2, 0.4, 0.8]


class _StreamWithSharedSequenceNumbers(_Streams):
    """moto's shard when two writes landed at once: the first two records share a sequence number,
    so the iterator after a batch that ends with them starts at the second one again."""

    def __init__(self, records):
        super().__init__(records)
        self.reads = []

    def get_records(self, ShardIterator, Limit):
        self.reads.append(ShardIterator)
        first, second, third = self.records
        batches = {"it-0": ([first, second], "it-1"), "it-1": ([second], "it-1"), "it-2": ([second, third], "it-3")}
        return dict(zip(("Records", "NextShardIterator"), batches.get(ShardIterator, ([], ShardIterator))))


def test_a_stream_record_handed_back_by_moto_is_delivered_once(cfn):
    _, spec = _pipe(cfn)
    from local.completion_events import PipeRunner

    records = [_record("MODIFY", _image("SUBMITTED"), _image(status)) for status in ("COMPLETED", "FAILED", "REJECTED")]
    streams = _StreamWithSharedSequenceNumbers(records)
    runner = PipeRunner(spec, streams=streams, events=_Events(), sqs=_Sqs())
    runner._iterators = {"shard-1": "it-0"}
    assert runner.run_once() == 2
    assert runner.run_once() == 0  # the second record again, and nothing new
    assert runner.run_once() == 0
    assert runner.delivered == 2
    # Only re-reads: the iterator stays where it was, so moto is not asked for a new one each tick.
    assert streams.reads == ["it-0", "it-1", "it-1"]
    streams.reads.clear()
    runner._iterators = {"shard-1": "it-2"}  # the next write came: the re-read and the new record
    assert runner.run_once() == 1 and runner.delivered == 3
