"""The jobs table as a state machine. Every write is conditional; terminal items are never overwritten.

Which status each write may start from and where it leads is the table in `transitions.py`; every
ConditionExpression here is built from it. Pending items carry the sparse GSI keys
`pending_shard`/`next_check_at`; terminal writes REMOVE them so the poller never sees them. Built on
the low-level DynamoDB client (thread-safe, unlike resources) because the poller writes from threads.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from .dynamo_values import from_item, to_attribute
from .models import ExtractionResult, JobRecord, JobStatus
from .nik_hash import NIK_HASH_ATTRIBUTE, NikHasher
from .observability import logger
from .outcomes import Outcome
from .stored_result import RESULT_TOO_LARGE, stored_result
from .table_indexes import BY_OBJECT_INDEX, BY_STATUS_INDEX
from .transitions import FINISHING_OP, NEW, TRANSITIONS, Op, condition

_INDEX_KEYS = ("pending_shard", "next_check_at")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def shard_for(reference_id: str, shards: int) -> str:
    return str(int(hashlib.sha256(reference_id.encode()).hexdigest()[:8], 16) % shards)


def _record(item: Mapping[str, Any]) -> JobRecord:
    return JobRecord.model_validate(from_item(item))


class JobStore:
    def __init__(self, client: Any, table_name: str, pending_index: str = "pending-by-next-check", *,
                 shards: int = 4, retention_days: int = 30, clock: Callable[[], float] = time.time,
                 nik_hasher: NikHasher | None = None) -> None:
        self._client = client
        # Erasure (erasure.py): a stored NIK also gets its keyed hash, the key of the by-nik-hash GSI.
        self._nik_hasher = nik_hasher
        self._table = table_name
        self._pending_index = pending_index
        self.shards = shards
        self._retention_seconds = retention_days * 86400
        self.now = clock  # the time source, called as store.now(); tests pass a fake clock

    @property
    def client(self) -> Any:  # attempts.py writes its two-item transaction on the same client
        return self._client

    @property
    def table_name(self) -> str:
        return self._table

    # --- the two kinds of write ----------------------------------------------------------------------

    def _update(self, op: Op, reference_id: str, *, sets: Mapping[str, Any], add: Mapping[str, int] | None = None,
                remove: tuple[str, ...] = (), also: str = "", also_values: Mapping[str, Any] | None = None) -> bool:
        """One UpdateItem allowed only from `op`'s sources; False when the condition did not hold."""
        target = TRANSITIONS[op].target
        sets = {**sets, "status": target.value} if target is not None else dict(sets)
        clauses = [f"SET {', '.join(f'#{k} = :{k}' for k in sets)}"]
        if add:
            clauses.append(f"ADD {', '.join(f'#{k} :{k}' for k in add)}")
        if remove:
            clauses.append(f"REMOVE {', '.join(f'#{k}' for k in remove)}")
        expected, expected_values = condition(op)
        values = {f":{k}": v for k, v in {**sets, **(add or {})}.items()} | dict(also_values or {})
        return self._conditional(
            self._client.update_item,
            Key={"reference_id": {"S": reference_id}},
            UpdateExpression=" ".join(clauses),
            ConditionExpression=f"{expected}{also}",
            ExpressionAttributeNames={f"#{k}": k for k in (*sets, *(add or {}), *remove, "status")},
            ExpressionAttributeValues={k: to_attribute(v) for k, v in values.items()} | expected_values,
        )

    def _put_new(self, item: Mapping[str, Any]) -> bool:
        """Create the item unless one with this reference_id exists; False when it already did."""
        return self._conditional(self._client.put_item, Item={k: to_attribute(v) for k, v in item.items()},
                                 ConditionExpression=condition(Op.CREATE)[0])

    def _conditional(self, write: Callable[..., Any], **request: Any) -> bool:
        try:
            write(TableName=self._table, **request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- reads -------------------------------------------------------------------------------------

    def get(self, reference_id: str) -> JobRecord | None:
        key = {"reference_id": {"S": reference_id}}
        item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def due(self, shard: str, now: float, page_size: int = 100) -> Iterator[JobRecord]:
        """Pending items of one shard whose `next_check_at` has passed: a Query on the sparse GSI."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table, IndexName=self._pending_index,
            KeyConditionExpression="pending_shard = :shard AND next_check_at <= :now",
            ExpressionAttributeValues={":shard": {"S": shard}, ":now": {"N": str(int(now))}},
            PaginationConfig={"PageSize": page_size},
        )
        for page in pages:
            yield from map(_record, page.get("Items", []))

    def list_by_status(self, status: JobStatus, limit: int = 100) -> list[JobRecord]:
        """Newest first, from the `by-status` GSI (keys and non-personal attributes only)."""
        page = self._client.query(
            TableName=self._table, IndexName=BY_STATUS_INDEX, KeyConditionExpression="#status = :status",
            ExpressionAttributeNames={"#status": "status"}, ExpressionAttributeValues={":status": {"S": status.value}},
            ScanIndexForward=False, Limit=limit,
        )
        return [_record(item) for item in page.get("Items", [])]

    def list_by_object(self, bucket: str, key: str) -> list[JobRecord]:
        """Every attempt of one object (oldest first), from the `by-object` GSI: no hash to re-derive."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table, IndexName=BY_OBJECT_INDEX,
            KeyConditionExpression="#object_key = :key AND #bucket = :bucket",
            ExpressionAttributeNames={"#object_key": "object_key", "#bucket": "bucket"},
            ExpressionAttributeValues={":key": {"S": key}, ":bucket": {"S": bucket}},
        )
        found = [_record(item) for page in pages for item in page.get("Items", [])]
        return sorted(found, key=lambda r: (r.attempt, r.created_at or ""))

    # --- pending transitions -----------------------------------------------------------------------

    def create_received(self, reference_id: str, *, bucket: str, key: str, version_id: str | None,
                        etag: str | None, size: int | None, claim_seconds: int, sequencer: str | None = None) -> bool:
        """Claim a new job. False when the item already exists (duplicate event, or a callback won)."""
        return self._put_new(self.received_item(reference_id, bucket=bucket, key=key, version_id=version_id,
                                                etag=etag, size=size, claim_seconds=claim_seconds,
                                                sequencer=sequencer))

    def received_item(self, reference_id: str, *, bucket: str, key: str, version_id: str | None,
                      etag: str | None, size: int | None, claim_seconds: int, sequencer: str | None = None,
                      **extra: Any) -> dict[str, Any]:
        """The item of a new RECEIVED job (also attempts.py's successor, with `extra` attempt links)."""
        now = self.now()
        optional = {"object_version_id": version_id, "object_etag": etag, "object_size": size,
                    "object_sequencer": sequencer, **extra}
        return {
            "reference_id": reference_id, "status": TRANSITIONS[Op.CREATE].target,
            "status_reason": "Upload received; checking the image.", "bucket": bucket, "object_key": key,
            "created_at": iso(now), "updated_at": iso(now), "created_epoch": int(now),
            "submit_attempts": 0, "retry_count": 0, "poll_count": 0,
            "pending_shard": shard_for(reference_id, self.shards),
            # If this submitter dies mid-way, the poller picks the job up after the claim expires.
            "next_check_at": int(now) + claim_seconds,
            "expires_at": int(now) + self._retention_seconds,
            **{k: v for k, v in optional.items() if v is not None},
        }

    def claim_for_submit(self, record: JobRecord, lease_seconds: int) -> bool:
        """Poller: take a RECEIVED/RETRY job for resubmission, optimistic on the `next_check_at` it saw."""
        now = self.now()
        sets = {"next_check_at": int(now) + lease_seconds, "updated_at": iso(now)}
        # Due now and unchanged since we read it: a second sweeper holding the same view loses.
        return self._update(Op.CLAIM, record.reference_id, sets=sets,
                            also=" AND next_check_at = :seen AND next_check_at <= :epoch",
                            also_values={":seen": record.next_check_at, ":epoch": int(now)})

    def mark_submitted(self, reference_id: str, next_check_in: int, reason: str) -> bool:
        now = self.now()
        sets = {"status_reason": reason, "submitted_at": iso(now), "submitted_epoch": int(now),
                "updated_at": iso(now), "next_check_at": int(now) + next_check_in,
                "expires_at": int(now) + self._retention_seconds}
        return self._update(Op.SUBMIT, reference_id, sets=sets, add={"submit_attempts": 1}, remove=("error_code",))

    def mark_retry(self, reference_id: str, error_code: str, reason: str, next_check_in: int) -> bool:
        now = self.now()
        sets = {"error_code": error_code, "status_reason": reason, "updated_at": iso(now),
                "next_check_at": int(now) + next_check_in}
        return self._update(Op.RETRY, reference_id, sets=sets, add={"retry_count": 1})

    def reschedule(self, reference_id: str, next_check_in: int) -> bool:
        """Poller: a SUBMITTED job whose result is not ready; check again later."""
        now = self.now()
        sets = {"next_check_at": int(now) + next_check_in, "updated_at": iso(now)}
        return self._update(Op.RESCHEDULE, reference_id, sets=sets, add={"poll_count": 1})

    # --- terminal transitions ----------------------------------------------------------------------

    def finish(self, reference_id: str, status: JobStatus, *, reason: str, error_code: str | None = None,
               result: dict[str, Any] | None = None, status_code: str | None = None,
               result_source: str | None = None, allow_orphan: bool = False,
               nik_hash: str | None = None) -> Outcome:
        """Move a pending job to a terminal status; never touches an item that is already terminal.
        `allow_orphan`: when no item exists and the table lets `status` start from nothing, store one
        flagged `orphan_callback` (a callback for an id we never saw must not be lost)."""
        op = FINISHING_OP[status]
        now = self.now()
        optional = {"error_code": error_code, "result": result, "status_code": status_code,
                    "result_source": result_source, NIK_HASH_ATTRIBUTE: nik_hash}
        sets = {"status_reason": reason, "updated_at": iso(now), "completed_at": iso(now),
                "expires_at": int(now) + self._retention_seconds,
                **{k: v for k, v in optional.items() if v is not None}}
        # e.g. a RETRY's error_code must not survive a COMPLETED
        stale = tuple(k for k, v in optional.items() if v is None)
        sources = TRANSITIONS[op].sources
        for _ in range(3):  # at most: update fails (missing) → orphan put fails (created meanwhile) → update
            if self._update(op, reference_id, sets=sets, remove=(*_INDEX_KEYS, *stale)):
                return Outcome.reached(status)
            current = self.get(reference_id)
            if current is None:
                if not (allow_orphan and NEW in sources):
                    return Outcome.MISSING
                orphan = {"reference_id": reference_id, "status": status, "orphan_callback": True,
                          "created_at": iso(now), "created_epoch": int(now), **sets}
                if self._put_new(orphan):
                    return Outcome.ORPHAN_STORED
            elif current.status.terminal:
                return Outcome.ALREADY_TERMINAL
            elif current.status not in sources:
                return Outcome.LOST_RACE  # e.g. a rejection for a job the provider has meanwhile accepted
        # Still pending after three rounds means a writer keeps racing us; the caller retries later.
        raise RuntimeError(f"could not finish job {reference_id}: concurrent writers")

    def record_result(self, result: ExtractionResult, source: str, *, reference_id: str | None = None,
                      allow_orphan: bool = False) -> Outcome | None:
        """The write callback and poller share: COMPLETED with fields or FAILED with the code; None
        (nothing written) for a result that is not ready."""
        ref = reference_id or result.reference_id
        if not ref:
            raise ValueError("result without reference_id")
        if result.state == "pending":
            return None
        stored = stored_result(result)
        if stored.error_code == RESULT_TOO_LARGE:
            logger.warning("result too large to store; the job fails", extra={"reference_id": ref})
        hashed = self._nik_hasher.of_result(stored.result) if self._nik_hasher is not None else None
        return self.finish(ref, stored.status, reason=stored.reason, error_code=stored.error_code, result=stored.result,
                           status_code=stored.status_code, result_source=source, allow_orphan=allow_orphan,
                           nik_hash=hashed)
