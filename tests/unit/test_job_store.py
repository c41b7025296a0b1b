"""The DynamoDB state machine: every transition, and no terminal item ever overwritten."""

import pytest
from ktp_pipeline.job_store import JobStore, shard_for
from ktp_pipeline.models import ExtractionResult, JobStatus
from ktp_pipeline.outcomes import Outcome

from .conftest import TABLE_NAME, completed_body

REF = "ktp-0123456789abcdef"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(stack, clock):
    return JobStore(stack.dynamodb, TABLE_NAME, shards=4, retention_days=30, clock=clock)


def received(store, ref=REF, claim=180):
    assert store.create_received(ref, bucket="b", key="incoming/a b.jpg", version_id="v1", etag="e1", size=10,
                                 claim_seconds=claim)


def test_received_carries_index_keys_ttl_and_object_identity(store, stack):
    received(store)
    item = stack.item(REF)
    assert item["status"] == "RECEIVED"
    assert item["pending_shard"] == shard_for(REF, 4)
    assert item["next_check_at"] == int(T0) + 180
    assert item["expires_at"] == int(T0) + 30 * 86400
    assert (item["bucket"], item["object_key"], item["object_version_id"]) == ("b", "incoming/a b.jpg", "v1")


def test_received_is_written_once(store):
    received(store)
    assert not store.create_received(REF, bucket="b", key="k", version_id="v2", etag=None, size=1, claim_seconds=1)


def test_received_to_submitted_to_completed(store, stack):
    received(store)
    assert store.mark_submitted(REF, 60, "sent")
    item = stack.item(REF)
    assert item["status"] == "SUBMITTED"
    assert item["submit_attempts"] == 1
    assert item["next_check_at"] == int(T0) + 60
    outcome = store.record_result(ExtractionResult.parse(completed_body(REF)), "callback")
    assert outcome is Outcome.COMPLETED
    raw = stack.raw_item(REF)
    assert "pending_shard" not in raw
    assert "next_check_at" not in raw  # left the sparse index
    item = stack.item(REF)
    assert item["status"] == "COMPLETED"
    assert item["result_source"] == "callback"
    assert item["status_code"] == "BILLED"
    assert item["result"]["fields"]["nik"] == "3171234567890001"
    assert item["result"]["image_quality"] == {"blur": False, "dark": False, "flashlight": False, "grayscale": False}


def test_submitted_to_failed_keeps_code_and_reason(store, stack):
    received(store)
    store.mark_submitted(REF, 60, "sent")
    store.record_result(ExtractionResult.parse({"error_code": "KTP_NOT_DETECTED", "data": {"reference_id": REF}}), "poll")
    item = stack.item(REF)
    assert item["status"] == "FAILED"
    assert item["error_code"] == "KTP_NOT_DETECTED"
    assert item["result_source"] == "poll"
    assert "KTP" in item["status_reason"]


def test_received_to_rejected(store, stack):
    received(store)
    assert store.finish(REF, JobStatus.REJECTED, reason="bad", error_code="INVALID_PAYLOAD_IMAGE_FORMAT") \
        is Outcome.REJECTED
    assert stack.item(REF)["status"] == "REJECTED"


def test_received_and_submitted_to_retry_and_back(store, stack, clock):
    received(store)
    assert store.mark_retry(REF, "INSUFFICIENT_QUOTA", "quota", 120)
    assert stack.item(REF)["status"] == "RETRY"
    assert stack.item(REF)["retry_count"] == 1
    assert store.mark_submitted(REF, 60, "sent")
    item = stack.item(REF)
    assert item["status"] == "SUBMITTED"
    assert "error_code" not in item  # the stale cause is gone
    assert store.mark_retry(REF, "RESULT_NOT_FOUND", "lost", 120)
    assert stack.item(REF)["status"] == "RETRY"


def test_pending_to_timed_out(store, stack):
    received(store)
    store.mark_submitted(REF, 60, "sent")
    assert store.finish(REF, JobStatus.TIMED_OUT, reason="late") is Outcome.TIMED_OUT
    assert stack.item(REF)["status"] == "TIMED_OUT"


def test_completed_after_retry_drops_the_old_error_code(store, stack):
    received(store)
    store.mark_retry(REF, "INSUFFICIENT_QUOTA", "quota", 1)
    store.record_result(ExtractionResult.parse(completed_body(REF)), "callback")
    assert "error_code" not in stack.item(REF)


@pytest.mark.parametrize("terminal", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.REJECTED, JobStatus.TIMED_OUT])
def test_terminal_items_are_never_overwritten(store, stack, terminal):
    received(store)
    store.finish(REF, terminal, reason="first", error_code="X" if terminal is not JobStatus.COMPLETED else None)
    before = stack.raw_item(REF)
    assert not store.mark_submitted(REF, 60, "again")
    assert not store.mark_retry(REF, "X", "again", 60)
    assert not store.reschedule(REF, 60)
    assert store.finish(REF, JobStatus.FAILED, reason="second", error_code="Y") is Outcome.ALREADY_TERMINAL
    assert store.record_result(ExtractionResult.parse(completed_body(REF)), "poll") is Outcome.ALREADY_TERMINAL
    assert stack.raw_item(REF) == before


def test_reschedule_only_for_submitted(store, stack, clock):
    received(store)
    assert not store.reschedule(REF, 60)  # RECEIVED belongs to its submitter
    store.mark_submitted(REF, 60, "sent")
    clock.now += 100
    assert store.reschedule(REF, 90)
    item = stack.item(REF)
    assert item["next_check_at"] == int(clock.now) + 90
    assert item["poll_count"] == 1


def test_claim_is_optimistic_on_the_seen_next_check(store, clock):
    received(store)
    job = store.get(REF)
    assert not store.claim_for_submit(job, 180)  # not due yet: its submitter still owns it
    clock.now += 181
    assert store.claim_for_submit(job, 180)
    assert not store.claim_for_submit(job, 180)  # the same stale view cannot claim twice


def test_unknown_reference_is_stored_as_orphan_only_when_allowed(store, stack):
    result = ExtractionResult.parse(completed_body(REF))
    assert store.record_result(result, "poll") is Outcome.MISSING
    assert stack.item(REF) is None
    assert store.record_result(result, "callback", allow_orphan=True) is Outcome.ORPHAN_STORED
    item = stack.item(REF)
    assert item["orphan_callback"] is True
    assert item["status"] == "COMPLETED"
    assert "pending_shard" not in stack.raw_item(REF)
    # A late S3 event for the same id cannot revive it.
    assert not store.create_received(REF, bucket="b", key="k", version_id="v", etag=None, size=1, claim_seconds=1)


def test_pending_result_writes_nothing(store, stack):
    received(store)
    before = stack.raw_item(REF)
    assert store.record_result(ExtractionResult.parse({"message": "processing"}), "poll", reference_id=REF) is None
    assert stack.raw_item(REF) == before


def test_due_reads_only_the_shard_and_due_items(store, clock):
    refs = [f"ktp-{i:012d}" for i in range(12)]
    for ref in refs:
        received(store, ref, claim=10)
    received(store, "ktp-notdueyet00", claim=10_000)
    store.finish(refs[0], JobStatus.REJECTED, reason="x", error_code="X")
    clock.now += 20
    seen = [job.reference_id for shard in range(4) for job in store.due(str(shard), clock.now, page_size=2)]
    assert sorted(seen) == sorted(refs[1:])


def test_list_by_status_newest_first(store, clock):
    for i, ref in enumerate(["ktp-aaaaaa", "ktp-bbbbbb", "ktp-cccccc"]):
        clock.now = T0 + i
        received(store, ref)
        store.finish(ref, JobStatus.REJECTED, reason="bad", error_code="INVALID_PAYLOAD_IMAGE_SIZE")
    listed = store.list_by_status(JobStatus.REJECTED)
    assert [job.reference_id for job in listed] == ["ktp-cccccc", "ktp-bbbbbb", "ktp-aaaaaa"]
    assert listed[0].error_code == "INVALID_PAYLOAD_IMAGE_SIZE"
    assert listed[0].result is None


def test_floats_and_unknown_keys_are_stored_and_read_back(store, stack):
    received(store)
    body = completed_body(REF)
    body["data"]["image_quality"]["blur_score"] = 0.125
    body["data"]["liveness"] = {"scores": [0.5, 1.0, float("inf")], "note": ""}
    store.record_result(ExtractionResult.parse(body), "callback")
    result = stack.item(REF)["result"]
    assert result["image_quality"]["blur_score"] == 0.125
    assert result["extra"] == {"liveness": {"scores": [0.5, 1, "inf"], "note": ""}}


def test_oversized_unknown_keys_are_dropped_not_fatal(store, stack):
    received(store)
    body = completed_body(REF)
    body["data"]["debug_dump"] = "x" * 100_000
    assert store.record_result(ExtractionResult.parse(body), "callback") is Outcome.COMPLETED
    result = stack.item(REF)["result"]
    assert "extra" not in result
    assert result["dropped"]["extra"] > 100_000
    assert result["fields"]["nik"] == "3171234567890001"
