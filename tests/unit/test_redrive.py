"""Re-drive selection (Query on by-status, from --since) and following a chain to its latest attempt."""

import pytest
from ktp_pipeline.job_store import JobStore
from ktp_pipeline.models import JobStatus
from ktp_pipeline.redrive import failed_ids, redrive

from .conftest import BUCKET, TABLE_NAME

T0 = 1_800_000_000


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(stack, clock):
    return JobStore(stack.dynamodb, TABLE_NAME, clock=clock)


def _job(store, ref, status, *, key=None):
    store.create_received(ref, bucket=BUCKET, key=key or f"{ref}.jpg", version_id="v1", etag=ref, size=1,
                          claim_seconds=60)
    if status is not JobStatus.RECEIVED:
        store.finish(ref, status, reason="r", result={"fields": {}} if status is JobStatus.COMPLETED else None)


def test_selection_reads_only_the_asked_statuses_since_the_given_time(stack, store, clock, monkeypatch):
    _job(store, "ktp-old-failed", JobStatus.FAILED)
    clock.now = T0 + 3600
    _job(store, "ktp-new-failed", JobStatus.FAILED)
    _job(store, "ktp-new-timeout", JobStatus.TIMED_OUT)
    _job(store, "ktp-new-rejected", JobStatus.REJECTED)
    _job(store, "ktp-new-done", JobStatus.COMPLETED)
    _job(store, "ktp-pending", JobStatus.RECEIVED)
    monkeypatch.setattr(stack.dynamodb, "scan", lambda **_: pytest.fail("re-drive must never Scan"))
    chosen = set(failed_ids(store, [JobStatus.FAILED, JobStatus.TIMED_OUT], since_epoch=T0 + 1800))
    assert chosen == {"ktp-new-failed", "ktp-new-timeout"}
    assert set(failed_ids(store, [JobStatus.FAILED])) == {"ktp-old-failed", "ktp-new-failed"}
    with pytest.raises(ValueError):
        list(failed_ids(store, [JobStatus.COMPLETED]))


def test_redrive_starts_one_attempt_and_a_second_redrive_follows_the_chain(store):
    _job(store, "ktp-to-redrive", JobStatus.TIMED_OUT)
    _job(store, "ktp-completed", JobStatus.COMPLETED)
    first = redrive(store, ["ktp-to-redrive", "ktp-completed", "ktp-missing"])
    successor = first[0].successor_id
    assert successor and first[0].note == "attempt 2 started"
    assert first[1].successor_id is None and "COMPLETED" in first[1].note
    assert first[2].note == "no such job"
    # The new attempt is pending: re-driving the old id again starts nothing.
    again = redrive(store, ["ktp-to-redrive"])
    assert again[0].successor_id is None and successor in again[0].note
    # Once attempt 2 failed too, the old id leads to attempt 3 (never a second attempt 2).
    store.finish(successor, JobStatus.FAILED, reason="r", error_code="KTP_NOT_DETECTED")
    third = redrive(store, ["ktp-to-redrive"])[0].successor_id
    record = store.get(third)
    assert (record.attempt, record.predecessor_id) == (3, successor)
