"""The jobs table as a state machine. Every write is conditional; terminal items are never overwritten.

Statuses: RECEIVED → SUBMITTED → COMPLETED | FAILED; RECEIVED → REJECTED; RECEIVED/SUBMITTED → RETRY
→ SUBMITTED (poller); any pending status → TIMED_OUT past the deadline. Pending items carry the sparse
GSI keys `pending_shard`/`next_check_at`; terminal writes REMOVE them so the poller never sees them.

Built on the low-level DynamoDB client (thread-safe, unlike resources) because the poller writes from
worker threads.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .models import PENDING_STATUSES, ExtractionResult, JobRecord, JobStatus
from .reasons import reason_for

BY_STATUS_INDEX = "by-status"
# Unknown provider keys are kept, but not without bound: a DynamoDB item holds at most 400 KB.
MAX_EXTRA_BYTES = 32 * 1024
_PENDING_VALUES = {f":p{i}": {"S": s.value} for i, s in enumerate(sorted(PENDING_STATUSES))}
_PENDING_CONDITION = f"#status IN ({', '.join(_PENDING_VALUES)})"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class FinishOutcome(StrEnum):
    WRITTEN = "written"  # a pending item became terminal
    ORPHAN_STORED = "orphan_stored"  # no item existed: stored and flagged `orphan_callback`
    ALREADY_TERMINAL = "already_terminal"  # duplicate or late: nothing changed
    MISSING = "missing"  # no item and orphans not allowed (poller paths)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def shard_for(reference_id: str, shards: int) -> str:
    return str(int(hashlib.sha256(reference_id.encode()).hexdigest()[:8], 16) % shards)


def _dynamo_safe(value: Any) -> Any:
    """DynamoDB numbers must be Decimal; provider payloads carry floats (scores)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        # Python's json accepts NaN/Infinity; DynamoDB numbers cannot hold them.
        return Decimal(str(value)) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _dynamo_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_dynamo_safe(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _av(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_dynamo_safe(value))


def _from_item(item: Mapping[str, Any]) -> JobRecord:
    return JobRecord.model_validate({k: _plain(_deserializer.deserialize(v)) for k, v in item.items()})


def result_map(result: ExtractionResult) -> dict[str, Any]:
    """Everything personal lives under one map attribute, so erasure is one REMOVE."""
    out: dict[str, Any] = {"fields": dict(result.fields)}
    if result.image_quality is not None:
        out["image_quality"] = dict(result.image_quality)
    if result.extra:
        size = len(json.dumps(result.extra, default=str).encode("utf-8"))
        out["extra"] = dict(result.extra) if size <= MAX_EXTRA_BYTES else {"dropped_bytes": size}
    if result.message:
        out["message"] = result.message
    return out


class JobStore:
    def __init__(
        self,
        client: Any,
        table_name: str,
        pending_index: str = "pending-by-next-check",
        *,
        shards: int = 4,
        retention_days: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._pending_index = pending_index
        self._shards = shards
        self._retention_seconds = retention_days * 86400
        self._clock = clock

    @property
    def shards(self) -> int:
        return self._shards

    def now(self) -> float:
        return self._clock()

    def _conditional_failed(self, exc: Exception) -> bool:
        return getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"

    def _update(self, reference_id: str, expression: str, condition: str, values: dict[str, Any],
                names: dict[str, str] | None = None) -> bool:
        """One conditional UpdateItem; False when the condition did not hold (someone else won)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"reference_id": {"S": reference_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status", **(names or {})},
                ExpressionAttributeValues={k: (v if k in _PENDING_VALUES else _av(v)) for k, v in values.items()},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- reads -------------------------------------------------------------------------------------

    def get(self, reference_id: str) -> JobRecord | None:
        response = self._client.get_item(
            TableName=self._table, Key={"reference_id": {"S": reference_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _from_item(item) if item else None

    def due(self, shard: str, now: float, page_size: int = 100) -> Iterator[JobRecord]:
        """Pending items of one shard whose `next_check_at` has passed: a Query on the sparse GSI."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._pending_index,
            "KeyConditionExpression": "pending_shard = :shard AND next_check_at <= :now",
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"N": str(int(now))}},
            "Limit": page_size,
        }
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                yield _from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list_by_status(self, status: JobStatus, limit: int = 100) -> list[JobRecord]:
        """Newest first, from the `by-status` GSI (keys and non-personal attributes only)."""
        page = self._client.query(
            TableName=self._table,
            IndexName=BY_STATUS_INDEX,
            KeyConditionExpression="#status = :status",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": status.value}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_from_item(item) for item in page.get("Items", [])]

    # --- pending transitions -----------------------------------------------------------------------

    def create_received(self, reference_id: str, *, bucket: str, key: str, version_id: str | None,
                        etag: str | None, size: int | None, claim_seconds: int) -> bool:
        """Claim a new job. False when the item already exists (duplicate event, or a callback won)."""
        now = self.now()
        item: dict[str, Any] = {
            "reference_id": reference_id,
            "status": JobStatus.RECEIVED.value,
            "status_reason": "Upload received; checking the image.",
            "bucket": bucket,
            "object_key": key,
            "created_at": iso(now),
            "updated_at": iso(now),
            "created_epoch": int(now),
            "submit_attempts": 0,
            "retry_count": 0,
            "poll_count": 0,
            "pending_shard": shard_for(reference_id, self._shards),
            # If this submitter dies mid-way, the poller picks the job up after the claim expires.
            "next_check_at": int(now) + claim_seconds,
            "expires_at": int(now) + self._retention_seconds,
        }
        for name, value in (("object_version_id", version_id), ("object_etag", etag), ("object_size", size)):
            if value is not None:
                item[name] = value
        return self._put_new(item)

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Create the item unless one with this reference_id exists; False when it already did."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={k: _av(v) for k, v in item.items()},
                ConditionExpression="attribute_not_exists(reference_id)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def claim_for_submit(self, record: JobRecord, lease_seconds: int) -> bool:
        """Poller: take a RECEIVED/RETRY job for resubmission, optimistic on the `next_check_at` it saw."""
        now = self.now()
        return self._update(
            record.reference_id,
            "SET next_check_at = :lease, updated_at = :now",
            # Due now and unchanged since we read it: a second sweeper holding the same view loses.
            "#status IN (:received, :retry) AND next_check_at = :seen AND next_check_at <= :epoch",
            {":lease": int(now) + lease_seconds, ":now": iso(now), ":seen": record.next_check_at, ":epoch": int(now),
             ":received": JobStatus.RECEIVED.value, ":retry": JobStatus.RETRY.value},
        )

    def mark_submitted(self, reference_id: str, next_check_in: int, reason: str) -> bool:
        now = self.now()
        return self._update(
            reference_id,
            "SET #status = :submitted, status_reason = :reason, submitted_at = :now, submitted_epoch = :epoch,"
            " updated_at = :now, next_check_at = :next, expires_at = :expires ADD submit_attempts :one"
            " REMOVE error_code",
            "#status IN (:received, :retry)",
            {":submitted": JobStatus.SUBMITTED.value, ":reason": reason, ":now": iso(now), ":epoch": int(now),
             ":next": int(now) + next_check_in, ":expires": int(now) + self._retention_seconds, ":one": 1,
             ":received": JobStatus.RECEIVED.value, ":retry": JobStatus.RETRY.value},
        )

    def mark_retry(self, reference_id: str, error_code: str, reason: str, next_check_in: int) -> bool:
        now = self.now()
        return self._update(
            reference_id,
            "SET #status = :retry, error_code = :code, status_reason = :reason, updated_at = :now,"
            " next_check_at = :next ADD retry_count :one",
            _PENDING_CONDITION,
            {":retry": JobStatus.RETRY.value, ":code": error_code, ":reason": reason, ":now": iso(now),
             ":next": int(now) + next_check_in, ":one": 1, **_PENDING_VALUES},
        )

    def reschedule(self, reference_id: str, next_check_in: int) -> bool:
        """Poller: a SUBMITTED job whose result is not ready; check again later."""
        now = self.now()
        return self._update(
            reference_id,
            "SET next_check_at = :next, updated_at = :now ADD poll_count :one",
            "#status = :submitted",
            {":next": int(now) + next_check_in, ":now": iso(now), ":one": 1,
             ":submitted": JobStatus.SUBMITTED.value},
        )

    # --- terminal transitions ----------------------------------------------------------------------

    def finish(
        self,
        reference_id: str,
        status: JobStatus,
        *,
        reason: str,
        error_code: str | None = None,
        result: dict[str, Any] | None = None,
        status_code: str | None = None,
        result_source: str | None = None,
        allow_orphan: bool = False,
    ) -> FinishOutcome:
        """Move a pending job to a terminal status. Never touches an item that is already terminal."""
        if not status.terminal:
            raise ValueError(f"{status} is not terminal")
        now = self.now()
        values: dict[str, Any] = {
            ":status": status.value, ":reason": reason, ":now": iso(now),
            ":expires": int(now) + self._retention_seconds,
        }
        sets = ["#status = :status", "status_reason = :reason", "updated_at = :now", "completed_at = :now",
                "expires_at = :expires"]
        removes = ["pending_shard", "next_check_at"]
        names: dict[str, str] = {}
        for attr, value in (("error_code", error_code), ("result", result), ("status_code", status_code),
                            ("result_source", result_source)):
            names[f"#{attr}"] = attr  # `result` is a DynamoDB reserved word
            if value is None:
                removes.append(f"#{attr}")  # e.g. a RETRY's error_code must not survive a COMPLETED
            else:
                sets.append(f"#{attr} = :{attr}")
                values[f":{attr}"] = value
        expression = f"SET {', '.join(sets)} REMOVE {', '.join(removes)}"
        for _ in range(3):  # at most: update fails (missing) → orphan put fails (created meanwhile) → update
            if self._update(reference_id, expression, _PENDING_CONDITION, {**values, **_PENDING_VALUES}, names):
                return FinishOutcome.WRITTEN
            current = self.get(reference_id)
            if current is not None and current.terminal:
                return FinishOutcome.ALREADY_TERMINAL
            if current is None:
                if not allow_orphan:
                    return FinishOutcome.MISSING
                if self._put_orphan(reference_id, status, values, now):
                    return FinishOutcome.ORPHAN_STORED
        # Still pending after three rounds means a writer keeps racing us; the caller retries later.
        raise RuntimeError(f"could not finish job {reference_id}: concurrent writers")

    def _put_orphan(self, reference_id: str, status: JobStatus, values: dict[str, Any], now: float) -> bool:
        item: dict[str, Any] = {
            "reference_id": reference_id,
            "status": status.value,
            "status_reason": values[":reason"],
            "orphan_callback": True,
            "created_at": iso(now),
            "updated_at": iso(now),
            "completed_at": iso(now),
            "created_epoch": int(now),
            "expires_at": values[":expires"],
        }
        for attr in ("error_code", "result", "status_code", "result_source"):
            if f":{attr}" in values:
                item[attr] = values[f":{attr}"]
        return self._put_new(item)

    def record_result(self, result: ExtractionResult, source: str, *, reference_id: str | None = None,
                      allow_orphan: bool = False) -> FinishOutcome | None:
        """The write callback and poller share: COMPLETED with fields or FAILED with the code.

        Returns None for a result that is not ready (nothing written).
        """
        ref = reference_id or result.reference_id
        if not ref:
            raise ValueError("result without reference_id")
        if result.state == "pending":
            return None
        if result.state == "failed":
            return self.finish(
                ref, JobStatus.FAILED, reason=reason_for(result.error_code), error_code=result.error_code,
                result=result_map(result) if (result.image_quality or result.fields or result.extra) else None,
                status_code=result.status_code, result_source=source, allow_orphan=allow_orphan,
            )
        return self.finish(
            ref, JobStatus.COMPLETED, reason="Extraction completed.", result=result_map(result),
            status_code=result.status_code, result_source=source, allow_orphan=allow_orphan,
        )
