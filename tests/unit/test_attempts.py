"""Attempts: ids, the two-way links written in one transaction, duplicate event vs real re-upload."""

import pytest
from ktp_pipeline.attempts import REDRIVABLE, chain_from, next_attempt_id, start_next_attempt, upload_identity
from ktp_pipeline.job_store import JobStore
from ktp_pipeline.models import JobStatus
from ktp_pipeline.reference_ids import reference_id_for

from .conftest import BUCKET, TABLE_NAME, FakeContext, completed_body, make_image
from .test_submit_handler import KEY, _callback_event, invoke, ref_for

T0 = 1_800_000_000


def test_attempt_one_is_the_original_algorithm_and_later_attempts_differ():
    first = reference_id_for("b", "k.jpg", "v1", '"e"')
    assert reference_id_for("b", "k.jpg", "v1", "e", attempt=1) == first
    ids = {reference_id_for("b", "k.jpg", "v1", "e", attempt=n) for n in range(1, 6)}
    assert len(ids) == 5
    with pytest.raises(ValueError):
        reference_id_for("b", "k.jpg", "v1", "e", attempt=0)


def test_upload_identity_prefers_the_version_and_falls_back_to_the_sequencer():
    assert upload_identity("v1", "00A") == "v:v1"
    assert upload_identity("null", "00A") == "s:00A"
    assert upload_identity(None, None) is None


@pytest.fixture
def store(stack):
    return JobStore(stack.dynamodb, TABLE_NAME, clock=lambda: T0)


def _failed_job(store, ref="ktp-attempt-one", status=JobStatus.TIMED_OUT):
    assert store.create_received(ref, bucket=BUCKET, key=KEY, version_id="v1", etag="e1", size=10, claim_seconds=60)
    assert store.finish(ref, status, reason="gave up", error_code="X").value
    return store.get(ref)


@pytest.mark.parametrize("status", sorted(REDRIVABLE))
def test_a_failed_attempt_gets_one_successor_linked_both_ways(store, status):
    previous = _failed_job(store, status=status)
    successor = start_next_attempt(store, previous, cause="redrive", claim_seconds=0)
    assert successor == next_attempt_id(previous) == reference_id_for(BUCKET, KEY, "v1", "e1", attempt=2)
    new, old = store.get(successor), store.get(previous.reference_id)
    assert (new.status, new.attempt, new.predecessor_id, new.attempt_cause) == (
        JobStatus.RECEIVED, 2, previous.reference_id, "redrive")
    assert new.next_check_at == T0 and new.object_version_id == "v1"  # due at the poller's next sweep
    assert old.successor_id == successor and old.status is status  # the old record is kept as it was
    # A second re-drive of the same old attempt writes nothing (it has a successor now).
    assert start_next_attempt(store, previous, cause="redrive", claim_seconds=0) is None
    assert [r.reference_id for r in chain_from(store, previous.reference_id)] == [previous.reference_id, successor]


def test_no_successor_for_a_completed_or_pending_job(store):
    ref = "ktp-attempt-done"
    store.create_received(ref, bucket=BUCKET, key=KEY, version_id="v1", etag="e1", size=10, claim_seconds=60)
    assert start_next_attempt(store, store.get(ref), cause="redrive", claim_seconds=0) is None  # RECEIVED
    store.finish(ref, JobStatus.COMPLETED, reason="ok", result={"fields": {}})
    assert start_next_attempt(store, store.get(ref), cause="redrive", claim_seconds=0) is None
    assert store.get(ref).successor_id is None


def test_a_stale_view_cannot_link_a_job_that_completed_meanwhile(store):
    # The caller read TIMED_OUT; the table's condition, not the caller's view, decides.
    previous = _failed_job(store)
    store.client.update_item(TableName=TABLE_NAME, Key={"reference_id": {"S": previous.reference_id}},
                             UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":c": {"S": "COMPLETED"}})
    assert start_next_attempt(store, previous, cause="redrive", claim_seconds=0) is None
    assert store.get(next_attempt_id(previous)) is None  # the transaction wrote neither item


def _fail_by_callback(handlers, ref):
    body = {"message": "failed", "error_code": "KTP_NOT_DETECTED", "data": {"reference_id": ref}}
    assert handlers["callback"].lambda_handler(_callback_event(body), FakeContext())["statusCode"] == 200


def test_duplicate_event_after_failure_is_still_a_duplicate(stack, handlers):
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    _fail_by_callback(handlers, ref_for(event))
    assert invoke(handlers, event)["outcomes"][0]["action"] == "duplicate"
    assert len(stack.provider.submits) == 1
    assert stack.item(ref_for(event)).get("successor_id") is None


def test_reupload_after_failure_starts_a_new_attempt_and_its_duplicate_does_not(stack, handlers):
    image = make_image()
    first = stack.s3_event(KEY, image)
    invoke(handlers, first)
    _fail_by_callback(handlers, ref_for(first))
    again = stack.s3_event(KEY, image)  # same bytes, new object version
    outcome = invoke(handlers, again)["outcomes"][0]
    second = reference_id_for(BUCKET, KEY, None, again["Records"][0]["s3"]["object"]["eTag"], attempt=2)
    assert (outcome["reference_id"], outcome["action"]) == (second, "submitted")
    assert [s["reference_id"] for s in stack.provider.submits] == [ref_for(first), second]
    record = stack.item(second)
    assert record["attempt"] == 2 and record["attempt_cause"] == "reupload"
    assert record["object_version_id"] == again["Records"][0]["s3"]["object"]["versionId"]
    assert stack.item(ref_for(first))["successor_id"] == second
    # S3 delivering either upload's event again bills nothing.
    assert invoke(handlers, again)["outcomes"][0]["action"] == "duplicate"
    assert invoke(handlers, first)["outcomes"][0]["action"] == "duplicate"
    assert len(stack.provider.submits) == 2


def test_reupload_after_completion_is_a_duplicate(stack, handlers):
    image = make_image()
    first = stack.s3_event(KEY, image)
    invoke(handlers, first)
    reply = handlers["callback"].lambda_handler(_callback_event(completed_body(ref_for(first))), FakeContext())
    assert reply["statusCode"] == 200
    assert invoke(handlers, stack.s3_event(KEY, image))["outcomes"][0]["action"] == "duplicate"
    assert len(stack.provider.submits) == 1


def test_unversioned_events_tell_uploads_apart_by_sequencer(stack, handlers):
    image = make_image()
    first = stack.s3_event(KEY, image)
    first["Records"][0]["s3"]["object"].update(versionId=None, sequencer="0055AED6DCD90281E5")
    first["Records"][0]["s3"]["object"].pop("versionId")
    invoke(handlers, first)
    _fail_by_callback(handlers, ref_for({"Records": [{"s3": {"object": {"versionId": None, "eTag": first["Records"][0]["s3"]["object"]["eTag"]}}}]}))
    assert invoke(handlers, first)["outcomes"][0]["action"] == "duplicate"  # same sequencer
    first["Records"][0]["s3"]["object"]["sequencer"] = "0055AED6DCD90281F0"
    assert invoke(handlers, first)["outcomes"][0]["action"] == "submitted"


def test_by_object_index_lists_every_attempt(store):
    previous = _failed_job(store)
    successor = start_next_attempt(store, previous, cause="redrive", claim_seconds=0)
    found = store.list_by_object(BUCKET, KEY)
    assert [(r.reference_id, r.attempt) for r in found] == [(previous.reference_id, 1), (successor, 2)]
    assert all(r.result is None for r in found)
    assert store.list_by_object(BUCKET, "other.jpg") == []


def _erase_object_attributes(store, ref):
    # What an erasure leaves (erasure.py PERSONAL_ATTRIBUTES): no key, no ETag.
    store.client.update_item(TableName=store.table_name, Key={"reference_id": {"S": ref}},
                             UpdateExpression="REMOVE object_key, object_etag")


def test_an_erased_failed_job_is_not_redriven_and_says_why(store):
    from ktp_pipeline.redrive import redrive

    previous = _failed_job(store, ref="ktp-attempt-erased")
    _erase_object_attributes(store, previous.reference_id)
    (row,) = redrive(store, [previous.reference_id])  # raised ValueError before: no object to derive an id from
    assert row.successor_id is None and "erased" in row.note
    assert start_next_attempt(store, store.get(previous.reference_id), cause="redrive", claim_seconds=0) is None


def test_a_reupload_after_an_erased_failure_is_a_new_attempt_of_the_new_object(store):
    from ktp_pipeline.attempts import reupload_attempt

    previous = _failed_job(store, ref="ktp-attempt-erased-reupload")
    _erase_object_attributes(store, previous.reference_id)
    successor = reupload_attempt(store, previous.reference_id, version_id="v2", sequencer="00B", size=10,
                                 claim_seconds=60, key=KEY, etag="e1")
    assert successor == reference_id_for(BUCKET, KEY, "v1", "e1", attempt=2)
    new = store.get(successor)
    assert (new.object_key, new.object_etag, new.object_version_id, new.predecessor_id) == (
        KEY, "e1", "v2", previous.reference_id)
