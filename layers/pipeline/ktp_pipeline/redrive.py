"""Re-drive: choose failed jobs and start their next attempt (attempts.py), for `ktp redrive` and for
applications. Selection by status reads the `by-status` GSI (a Query per status, from `since` on its
`updated_at` sort key), never a Scan. The new attempt is RECEIVED and due at once, so the poller
sends it on its next sweep through the normal resubmission path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .attempts import REDRIVABLE, chain_from, start_next_attempt
from .job_store import JobStore, iso
from .models import JobStatus
from .table_indexes import BY_STATUS_INDEX


@dataclass(frozen=True)
class Redriven:
    reference_id: str  # the job asked for
    successor_id: str | None  # the new attempt; None when none was started
    note: str  # why (for the CLI's table)


def failed_ids(store: JobStore, statuses: Iterable[JobStatus], since_epoch: float | None = None,
               page_size: int = 100) -> Iterator[str]:
    """Ids of jobs in `statuses` (each must be re-drivable) last written at or after `since_epoch`."""
    for status in statuses:
        if status not in REDRIVABLE:
            raise ValueError(f"{status.value} jobs cannot be re-driven (only {', '.join(sorted(REDRIVABLE))})")
        condition, values = "#status = :status", {":status": {"S": status.value}}
        if since_epoch is not None:
            condition += " AND updated_at >= :since"
            values[":since"] = {"S": iso(since_epoch)}
        pages = store.client.get_paginator("query").paginate(
            TableName=store.table_name, IndexName=BY_STATUS_INDEX, KeyConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"}, ExpressionAttributeValues=values,
            ProjectionExpression="reference_id", PaginationConfig={"PageSize": page_size},
        )
        for page in pages:
            yield from (item["reference_id"]["S"] for item in page.get("Items", []))


def redrive(store: JobStore, reference_ids: Iterable[str]) -> list[Redriven]:
    """Start the next attempt of each job. A job that already has a successor is followed to its
    latest attempt, so re-driving an old id twice never makes two new attempts of the same failure."""
    done: list[Redriven] = []
    for reference_id in dict.fromkeys(reference_ids):
        chain = chain_from(store, reference_id)
        if not chain:
            done.append(Redriven(reference_id, None, "no such job"))
            continue
        latest = chain[-1]
        if latest.status not in REDRIVABLE:
            what = "latest attempt" if len(chain) > 1 else "job"
            done.append(Redriven(reference_id, None, f"{what} {latest.reference_id} is {latest.status.value}"))
            continue
        if not latest.object_key:  # erased: its object and key are gone
            done.append(Redriven(reference_id, None, f"job {latest.reference_id} has no object (erased)"))
            continue
        successor = start_next_attempt(store, latest, cause="redrive", claim_seconds=0)
        note = f"attempt {latest.attempt + 1} started" if successor else "changed meanwhile; nothing started"
        done.append(Redriven(reference_id, successor, note))
    return done
