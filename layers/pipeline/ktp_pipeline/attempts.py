"""Attempts: a failed job (FAILED / TIMED_OUT / REJECTED) tried again as a new job of the same object.

Attempt n+1 gets its own `reference_id` (`reference_id_for(..., attempt=n+1)`), so the provider sees
a new id and the old record stays as it was. One DynamoDB transaction writes both links, or neither:
the new item (`predecessor_id`, `attempt`, condition: it does not exist) and the old item's
`successor_id` (condition: `Op.SUPERSEDE`'s sources from transitions.py and no successor yet). So a
failed attempt has at most one successor however many re-drives or re-uploads race, and a COMPLETED
or pending job never gets one.

A new attempt is billed because someone asked: `ktp redrive` (cause `redrive`), or a real re-upload of
the same bytes (cause `reupload`: an S3 event whose object version, or sequencer in an unversioned
bucket, is not one any attempt of the chain was made from). A duplicated S3 event carries the same
version id and sequencer as the event that made its attempt, so it stays a duplicate.
"""

from __future__ import annotations

from typing import Literal

from .job_store import JobStore
from .models import JobRecord, JobStatus
from .reference_ids import reference_id_for
from .transitions import TRANSITIONS, Op, condition
from .dynamo_values import to_attribute

REDRIVABLE: frozenset[JobStatus] = frozenset(s for s in TRANSITIONS[Op.SUPERSEDE].sources if s is not None)
MAX_CHAIN = 1000  # far beyond any sane number of attempts; bounds a walk over a corrupted chain
Cause = Literal["redrive", "reupload"]


def upload_identity(version_id: str | None, sequencer: str | None) -> str | None:
    """What tells one PUT of the object from another: the version id in a versioned bucket (ours),
    the event's sequencer otherwise. None: unknown, which never counts as a new upload."""
    if version_id and version_id != "null":
        return f"v:{version_id}"
    return f"s:{sequencer}" if sequencer else None


def record_identity(record: JobRecord) -> str | None:
    return upload_identity(record.object_version_id, record.object_sequencer)


def chain_from(store: JobStore, reference_id: str) -> list[JobRecord]:
    """The attempt with this id and every successor after it, in order (empty when it does not exist)."""
    chain: list[JobRecord] = []
    next_id: str | None = reference_id
    while next_id and len(chain) < MAX_CHAIN:
        record = store.get(next_id)
        if record is None:
            break
        chain.append(record)
        next_id = record.successor_id
    return chain


def next_attempt_id(record: JobRecord, *, key: str | None = None, etag: str | None = None) -> str:
    """`key`/`etag`: the object's, when `record` no longer holds them (an erasure removed them)."""
    key, etag = key or record.object_key, etag or record.object_etag
    if not record.bucket or not key:
        raise ValueError(f"job {record.reference_id} has no object to try again")
    return reference_id_for(record.bucket, key, record.object_version_id, etag, attempt=record.attempt + 1)


def start_next_attempt(store: JobStore, previous: JobRecord, *, cause: Cause, claim_seconds: int,
                       version_id: str | None = None, sequencer: str | None = None,
                       size: int | None = None, key: str | None = None, etag: str | None = None) -> str | None:
    """Write attempt n+1 of `previous`'s object and link both ways; its id, or None when `previous` is
    not (or no longer) a failed attempt without a successor. `version_id`/`sequencer`/`size`: a
    re-upload's new object version (default: the one `previous` was made from). `claim_seconds`: when
    the poller may send it (0 = at its next sweep; the submitter claims it longer and sends it itself).
    `key`/`etag`: a re-upload's (needed when an erasure removed them from `previous`); without them an
    erased `previous` has no object to try again and gets no successor."""
    if previous.status not in REDRIVABLE or previous.successor_id:
        return None
    key, etag = key or previous.object_key, etag or previous.object_etag
    if not previous.bucket or not key:
        return None  # erased (or an orphan callback): nothing to send
    successor_id = next_attempt_id(previous, key=key, etag=etag)
    item = store.received_item(
        successor_id, bucket=previous.bucket, key=key,
        version_id=version_id or previous.object_version_id, etag=etag,
        size=size if size is not None else previous.object_size, claim_seconds=claim_seconds,
        sequencer=sequencer if version_id or sequencer else previous.object_sequencer,
        attempt=previous.attempt + 1, predecessor_id=previous.reference_id, attempt_cause=cause,
    )
    expected, expected_values = condition(Op.SUPERSEDE)
    client = store.client
    try:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": store.table_name, "Item": {k: to_attribute(v) for k, v in item.items()},
                     "ConditionExpression": condition(Op.CREATE)[0]}},
            {"Update": {
                "TableName": store.table_name, "Key": {"reference_id": {"S": previous.reference_id}},
                "UpdateExpression": "SET #successor_id = :successor_id",
                "ConditionExpression": f"{expected} AND attribute_not_exists(#successor_id)",
                "ExpressionAttributeNames": {"#status": "status", "#successor_id": "successor_id"},
                "ExpressionAttributeValues": {":successor_id": {"S": successor_id}, **expected_values},
            }},
        ])
    except client.exceptions.TransactionCanceledException:
        return None  # another re-drive or re-upload won, or the job is not a failed attempt
    return successor_id


def reupload_attempt(store: JobStore, first_id: str, *, version_id: str | None, sequencer: str | None,
                     size: int | None, claim_seconds: int, key: str | None = None,
                     etag: str | None = None) -> str | None:
    """An S3 event for an object whose attempt 1 exists: the id of a new attempt when this is a real
    re-upload after a failed last attempt, else None (a duplicate: pending, COMPLETED, or an event
    for an upload some attempt was already made from)."""
    identity = upload_identity(version_id, sequencer)
    chain = chain_from(store, first_id)
    if identity is None or not chain or identity in {record_identity(r) for r in chain}:
        return None
    return start_next_attempt(store, chain[-1], cause="reupload", claim_seconds=claim_seconds,
                              version_id=version_id, sequencer=sequencer, size=size, key=key, etag=etag)
