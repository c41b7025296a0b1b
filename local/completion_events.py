"""The completion-events Pipe, locally: moto stores ``AWS::Pipes::Pipe`` but runs nothing, so this
module does what EventBridge Pipes does with the Pipe's own properties as CloudFormation resolved
them from the template (``FilterCriteria``, ``InputTemplate``, the event-bus target parameters):

- :func:`pipe_passes` — a stream record passes when any filter pattern matches it (moto's
  EventBridge pattern matcher, the same syntax Pipes filters use);
- :func:`render_input_template` — Pipes' input transformation: ``<$.json.path>`` placeholders,
  quoted ones inserted as JSON string content, unquoted ones as JSON values; an absent path becomes
  ``""`` (quoted) or ``null`` (unquoted);
- :class:`PipeRunner` — reads the table's stream in moto (bounded ``GetRecords`` from ``LATEST``) and
  ``PutEvents`` each passing record to the bus; a record it cannot deliver goes, as metadata only,
  to the Pipe's dead-letter queue.

The local target: :func:`subscribe_queue` gives the bus a rule (``{"source": [...]}``) that moto
delivers to an SQS queue; ``ktp watch --events`` and the tests read such queues.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("ktp.local.completion_events")

# Up to 10 entries per PutEvents call (the EventBridge limit).
_PUT_EVENTS_MAX = 10
# How many delivered record ids the runner remembers per shard to drop moto's re-reads (see
# PipeRunner._fresh); a re-read reaches back at most as far as the number of concurrent writers.
_RECENT_IDS = 1000
_PLACEHOLDER = re.compile(r'"<(\$[^<>"]*|aws\.pipes\.[a-z.-]+)>"|<(\$[^<>"]*|aws\.pipes\.[a-z.-]+)>')
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]")
MISSING = object()


def json_path(document: Any, path: str) -> Any:
    """The value at a Pipes JSON path (``$.a.b[0]``: dots, array indices); ``MISSING`` if absent."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path!r}")
    value, position = document, 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"unsupported JSON path syntax: {path!r}")
        name, index = step.groups()
        if name is not None:
            value = value.get(name, MISSING) if isinstance(value, Mapping) else MISSING
        else:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else MISSING
        if value is MISSING:
            return MISSING
        position = step.end()
    return value


def as_wire_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stream record as the service sends it (boto3 turns ``ApproximateCreationDateTime``, epoch
    seconds on the wire, into a datetime)."""
    return json.loads(json.dumps(record, default=lambda value: value.timestamp() if isinstance(value, datetime) else str(value)))


def pipe_passes(record: Mapping[str, Any], filters: Sequence[Mapping[str, Any]]) -> bool:
    """FilterCriteria: no filters pass everything; otherwise any matching pattern lets it through."""
    from moto.events.models import EventPattern

    if not filters:
        return True
    return any(EventPattern.load(item["Pattern"]).matches_event(dict(record)) for item in filters)


def render_input_template(template: str, record: Mapping[str, Any], reserved: Mapping[str, str] | None = None) -> str:
    """Pipes' ``InputTemplate`` applied to one record."""
    variables = dict(reserved or {})

    def value_of(name: str) -> Any:
        if name.startswith("$"):
            return json_path(record, name)
        if name not in variables:
            raise ValueError(f"unknown reserved variable <{name}>")
        return variables[name]

    def replace(match: re.Match[str]) -> str:
        quoted, bare = match.groups()
        value = value_of(quoted or bare)
        if quoted is not None:
            text = "" if value is MISSING else value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)
        return "null" if value is MISSING else json.dumps(value)

    return _PLACEHOLDER.sub(replace, template)


def dynamic_parameter(value: Any, record: Mapping[str, Any]) -> Any:
    """A target parameter: a whole-value JSON path is taken from the record (Pipes' dynamic path
    parameters); anything else is used as given."""
    if isinstance(value, str) and value.startswith("$."):
        found = json_path(record, value)
        return None if found is MISSING else found
    return value


@dataclass(frozen=True)
class PipeSpec:
    """An ``AWS::Pipes::Pipe`` with a DynamoDB stream source and an event-bus target, resolved."""

    logical_id: str
    source_arn: str
    target_arn: str
    filters: tuple[Mapping[str, Any], ...]
    input_template: str | None
    bus_parameters: Mapping[str, Any]
    batch_size: int
    maximum_retry_attempts: int
    dead_letter_arn: str | None

    @classmethod
    def from_properties(cls, logical_id: str, properties: Mapping[str, Any]) -> PipeSpec:
        source = properties.get("SourceParameters") or {}
        stream = source.get("DynamoDBStreamParameters") or {}
        target = properties.get("TargetParameters") or {}
        if not str(properties.get("Source", "")).startswith("arn:") or ":dynamodb:" not in str(properties["Source"]):
            raise ValueError(f"{logical_id}: only DynamoDB stream sources run locally")
        if ":events:" not in str(properties.get("Target", "")):
            raise ValueError(f"{logical_id}: only event-bus targets run locally")
        return cls(
            logical_id=logical_id,
            source_arn=properties["Source"],
            target_arn=properties["Target"],
            filters=tuple((source.get("FilterCriteria") or {}).get("Filters") or ()),
            input_template=target.get("InputTemplate"),
            bus_parameters=target.get("EventBridgeEventBusParameters") or {},
            batch_size=int(stream.get("BatchSize", 100)),
            maximum_retry_attempts=int(stream.get("MaximumRetryAttempts", -1)),
            dead_letter_arn=(stream.get("DeadLetterConfig") or {}).get("Arn"),
        )

    @property
    def source(self) -> str:
        return str(self.bus_parameters.get("Source") or "")

    def entry_for(self, record: Mapping[str, Any], *, pipe_arn: str = "") -> dict[str, Any] | None:
        """The ``PutEvents`` entry this Pipe makes of one stream record; ``None`` if filtered out."""
        if not pipe_passes(record, self.filters):
            return None
        reserved = {
            "aws.pipes.pipe-arn": pipe_arn,
            "aws.pipes.pipe-name": pipe_arn.rpartition("/")[2],
            "aws.pipes.source-arn": self.source_arn,
            "aws.pipes.target-arn": self.target_arn,
            "aws.pipes.event.ingestion-time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        detail = (render_input_template(self.input_template, record, reserved) if self.input_template is not None
                  else json.dumps(record))
        entry: dict[str, Any] = {"EventBusName": self.target_arn, "Detail": detail}
        for name in ("Source", "DetailType", "Time", "Resources"):
            if name in self.bus_parameters:
                value = dynamic_parameter(self.bus_parameters[name], record)
                if value is not None:
                    entry[name] = _parse_time(value) if name == "Time" else value
        return entry


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def pipes_in(cfn: Mapping[str, Any]) -> list[str]:
    """Logical ids of the translated template's pipes."""
    return [name for name, resource in cfn["Resources"].items() if resource.get("Type") == "AWS::Pipes::Pipe"]


def queue_policy(queue_arn: str, rule_arn: str) -> str:
    """The SQS policy that lets EventBridge deliver one rule's events to the queue (AWS checks it)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }]})


def subscribe_queue(events: Any, sqs: Any, *, bus_name: str, source: str, queue_name: str, rule_name: str) -> tuple[str, str]:
    """Create a queue and a rule on the bus that delivers every event of ``source`` to it.
    Returns (queue URL, rule name)."""
    queue_url = sqs.create_queue(QueueName=queue_name, Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=rule_name, EventBusName=bus_name, EventPattern=json.dumps({"source": [source]}),
                               State="ENABLED", Description="KTP completion events to a queue")["RuleArn"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": queue_policy(queue_arn, rule_arn)})
    events.put_targets(Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url, rule_name


def unsubscribe_queue(events: Any, sqs: Any, *, bus_name: str, queue_url: str, rule_name: str) -> None:
    events.remove_targets(Rule=rule_name, EventBusName=bus_name, Ids=["queue"])
    events.delete_rule(Name=rule_name, EventBusName=bus_name)
    sqs.delete_queue(QueueUrl=queue_url)


def receive_events(sqs: Any, queue_url: str, *, wait_seconds: int = 1, max_messages: int = 10) -> list[dict[str, Any]]:
    """One bounded receive: up to ``max_messages`` events (deleted once read)."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages,
                                   WaitTimeSeconds=wait_seconds).get("Messages", [])
    if messages:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(messages)])
    return [json.loads(message["Body"]) for message in messages]


class PipeRunner:
    """Runs one resolved Pipe against moto: stream shard(s) from ``LATEST`` → filter → template →
    ``PutEvents``. Started after the table was restored, so restored items emit nothing (as a new
    Pipe starting at ``LATEST`` would)."""

    def __init__(self, spec: PipeSpec, *, streams: Any, events: Any, sqs: Any, pipe_arn: str = "",
                 interval_seconds: float = 0.2, idle_interval_seconds: float = 1.0) -> None:
        self.spec = spec
        self.streams, self.events, self.sqs = streams, events, sqs
        self.pipe_arn = pipe_arn or f"arn:aws:pipes:local:000000000000:pipe/{spec.logical_id}"
        # Every 0.2 s while the table changes; after empty reads the wait doubles up to once a second.
        # Polling moto five times a second for ever cost an idle stack 2.4 % of a core (against 0.2 %
        # at once a second, measured on a stack left idle for 30 s), and a test run holds several.
        self.interval_seconds = interval_seconds
        self.idle_interval_seconds = max(idle_interval_seconds, interval_seconds)
        self.delivered = 0
        self.dead_lettered = 0
        self._iterators: dict[str, str] = {}
        self._recent: dict[str, tuple[deque[str], set[str]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"pipe-{spec.logical_id}", daemon=True)

    def start(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]
        for shard in description["Shards"]:
            self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.spec.source_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _loop(self) -> None:
        interval = self.interval_seconds
        while not self._stop.wait(interval):
            try:
                read = self._read_shards()[0]
            except Exception as error:  # noqa: BLE001 - a failed poll is retried on the next tick, like Pipes
                log.warning("completion-events pipe poll failed: %s", type(error).__name__)
                read = 0
            interval = self.interval_seconds if read else min(2 * interval, self.idle_interval_seconds)

    def run_once(self) -> int:
        """Read each shard once (at most ``BatchSize`` records) and deliver; returns events sent."""
        return self._read_shards()[1]

    def _read_shards(self) -> tuple[int, int]:
        """(records read, events sent) of one read of every shard."""
        read = sent = 0
        for shard_id, iterator in list(self._iterators.items()):
            answer = self.streams.get_records(ShardIterator=iterator, Limit=max(1, min(self.spec.batch_size, 1000)))
            records = self._fresh(shard_id, [as_wire_record(record) for record in answer.get("Records", [])])
            read += len(records)
            entries = [(record, entry) for record in records
                       if (entry := self.spec.entry_for(record, pipe_arn=self.pipe_arn)) is not None]
            for start in range(0, len(entries), _PUT_EVENTS_MAX):
                sent += self._deliver(shard_id, entries[start:start + _PUT_EVENTS_MAX])
            # Only past the batch once it is delivered or dead-lettered: an error (moto unreachable)
            # reads the same records again on the next tick, as Pipes retries a batch. An empty read
            # keeps its iterator: moto keeps every iterator it hands out, and an idle stack would
            # otherwise grow by five a second (moto's iterators do not expire like AWS's).
            # A batch of nothing but re-reads (below) keeps its iterator too.
            if records:
                self._iterators[shard_id] = answer.get("NextShardIterator") or iterator
            self._remember(shard_id, records)
        return read, sent

    def _fresh(self, shard_id: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records not yet delivered. moto numbers a stream record ``len(items)`` before appending
        it, so two writes at the same moment share a sequence number, and the iterator after a batch
        ending in such a pair hands its last record back (until the next write). A stream record is
        delivered once here, as DynamoDB Streams delivers it."""
        seen = self._recent[shard_id][1] if shard_id in self._recent else set()
        return [record for record in records if record["eventID"] not in seen]

    def _remember(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        order, seen = self._recent.setdefault(shard_id, (deque(), set()))
        for record in records:
            order.append(record["eventID"])
            seen.add(record["eventID"])
        while len(order) > _RECENT_IDS:
            seen.discard(order.popleft())

    def _deliver(self, shard_id: str, batch: list[tuple[Mapping[str, Any], dict[str, Any]]]) -> int:
        pending = batch
        attempts = 0
        while pending:
            answer = self.events.put_events(Entries=[entry for _, entry in pending])
            failed = [item for item, result in zip(pending, answer["Entries"], strict=True) if result.get("ErrorCode")]
            self.delivered += len(pending) - len(failed)
            pending = failed
            attempts += 1
            limit = self.spec.maximum_retry_attempts
            if pending and ((limit >= 0 and attempts > limit) or self._stop.is_set()):
                self._dead_letter(shard_id, pending)
                break
        return len(batch) - len(pending)

    def _dead_letter(self, shard_id: str, failed: list[tuple[Mapping[str, Any], dict[str, Any]]]) -> None:
        """Like Pipes for a stream source: metadata naming the records, never their images."""
        self.dead_lettered += len(failed)
        numbers = [record["dynamodb"]["SequenceNumber"] for record, _ in failed]
        log.error("completion events for %d stream record(s) could not be delivered", len(failed))
        if not self.spec.dead_letter_arn:
            return
        queue_name = self.spec.dead_letter_arn.rpartition(":")[2]
        queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
            "context": {"pipeArn": self.pipe_arn, "sourceArn": self.spec.source_arn, "targetArn": self.spec.target_arn},
            "shardId": shard_id, "startSequenceNumber": min(numbers), "endSequenceNumber": max(numbers),
            "batchSize": len(failed),
        }))
