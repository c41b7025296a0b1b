"""functions/poller/app.py with events/poller_schedule.json: stragglers polled, resubmitted, timed out."""

import json
import threading
import time

import httpx
import pytest
from ktp_pipeline.job_store import JobStore, shard_for
from ktp_pipeline.models import JobStatus

from .conftest import (
    BUCKET,
    CALLBACK_PASSWORD,
    CALLBACK_USER,
    TABLE_NAME,
    FakeContext,
    basic,
    completed_body,
    error_reply,
    extractor_body,
    load_event,
    make_image,
)


def store_at(stack, seconds_ago: float) -> JobStore:
    now = time.time() - seconds_ago
    return JobStore(stack.dynamodb, TABLE_NAME, clock=lambda: now)


def seed(stack, ref: str, status: JobStatus, *, age: float = 600, with_object: bool = False,
         submitted_ago: float | None = None, error_code: str = "INSUFFICIENT_QUOTA") -> None:
    """An item created `age` seconds ago, due now, in `status`."""
    key, version, size = "incoming/old.jpg", "v0", 10
    if with_object:
        put = stack.s3.put_object(Bucket=BUCKET, Key=f"incoming/{ref}.jpg", Body=make_image())
        key, version, size = f"incoming/{ref}.jpg", put["VersionId"], None
    store_at(stack, age).create_received(ref, bucket=BUCKET, key=key, version_id=version, etag="e", size=size,
                                         claim_seconds=0)
    if status is JobStatus.SUBMITTED:
        store_at(stack, age if submitted_ago is None else submitted_ago).mark_submitted(ref, 0, "sent")
    elif status is JobStatus.RETRY:
        store_at(stack, age).mark_retry(ref, error_code, "retry", 0)


def run(handlers, remaining_ms: int = 200_000):
    return handlers["poller"].lambda_handler(load_event("poller_schedule.json"), FakeContext(remaining_ms=remaining_ms))


def test_ready_result_completes_the_job_like_a_callback(stack, handlers, capsys):
    seed(stack, "ktp-poll-ready", JobStatus.SUBMITTED)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json=completed_body(ref))
    counts = run(handlers)
    assert counts["checked"] == 1
    assert counts["completed"] == 1
    item = stack.item("ktp-poll-ready")
    assert item["status"] == "COMPLETED"
    assert item["result_source"] == "poll"
    assert item["status_code"] == "BILLED"
    assert item["result"]["fields"]["nik"] == "3171234567890001"
    assert "next_check_at" not in item
    emitted = capsys.readouterr().out
    for metric in ("poller_checked", "poller_completed", "poller_resubmitted", "poller_timed_out"):
        assert f'"{metric}"' in emitted


@pytest.mark.parametrize("code", ["FAIL_ON_1", "KTP_NOT_DETECTED", "INTERNAL_SERVER_ERROR"])
def test_result_error_codes_fail_the_job_with_the_code(stack, handlers, code):
    seed(stack, "ktp-poll-fail", JobStatus.SUBMITTED)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json={"error_code": code, "data": {"reference_id": ref}})
    assert run(handlers)["failed"] == 1
    item = stack.item("ktp-poll-fail")
    assert item["status"] == "FAILED"
    assert item["error_code"] == code
    assert item["status_reason"]


def test_result_400_invalid_reference_fails_the_job(stack, handlers):
    seed(stack, "ktp-poll-400", JobStatus.SUBMITTED)
    stack.provider.result_reply = error_reply(400, "INVALID_PAYLOAD_REFERENCE_ID")
    run(handlers)
    item = stack.item("ktp-poll-400")
    assert item["status"] == "FAILED"
    assert item["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID"


def test_not_ready_result_is_checked_again_later(stack, handlers):
    seed(stack, "ktp-poll-pending", JobStatus.SUBMITTED)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json={"message": "processing"})
    assert run(handlers)["not_ready"] == 1
    item = stack.item("ktp-poll-pending")
    assert item["status"] == "SUBMITTED"
    assert item["poll_count"] == 1
    assert item["next_check_at"] > time.time()


def test_404_within_grace_is_not_ready(stack, handlers):
    seed(stack, "ktp-poll-young", JobStatus.SUBMITTED, age=100)
    assert run(handlers)["not_ready"] == 1
    assert stack.item("ktp-poll-young")["status"] == "SUBMITTED"
    assert stack.provider.submits == []


def test_404_past_grace_resubmits_from_s3(stack, handlers):
    seed(stack, "ktp-poll-lost", JobStatus.SUBMITTED, age=900, with_object=True)
    counts = run(handlers)
    assert counts["resubmitted"] == 1
    [body] = stack.provider.submits
    assert body["reference_id"] == "ktp-poll-lost"
    item = stack.item("ktp-poll-lost")
    assert item["status"] == "SUBMITTED"
    assert item["submit_attempts"] == 2
    assert item["retry_count"] == 1


def test_http_500_on_result_is_retried_later(stack, handlers):
    seed(stack, "ktp-poll-500", JobStatus.SUBMITTED)
    stack.provider.result_reply = error_reply(500, "INTERNAL_SERVER_ERROR")
    assert run(handlers)["poll_error"] == 1
    assert stack.item("ktp-poll-500")["status"] == "SUBMITTED"


def test_retry_items_are_resubmitted(stack, handlers):
    seed(stack, "ktp-retry-item", JobStatus.RETRY, with_object=True)
    assert run(handlers)["resubmitted"] == 1
    item = stack.item("ktp-retry-item")
    assert item["status"] == "SUBMITTED"
    assert "error_code" not in item


def test_retry_resubmission_still_failing_stays_in_retry_with_longer_backoff(stack, handlers):
    seed(stack, "ktp-retry-again", JobStatus.RETRY, with_object=True)
    stack.provider.submit_reply = error_reply(403, "INSUFFICIENT_QUOTA")
    counts = run(handlers)
    assert counts["retry"] == 1
    item = stack.item("ktp-retry-again")
    assert item["status"] == "RETRY"
    assert item["retry_count"] == 2
    assert item["next_check_at"] > time.time() + 30


def test_received_job_whose_submitter_died_is_taken_over(stack, handlers):
    seed(stack, "ktp-orphaned-rx", JobStatus.RECEIVED, with_object=True)
    assert run(handlers)["resubmitted"] == 1
    assert stack.item("ktp-orphaned-rx")["status"] == "SUBMITTED"


def test_resubmission_answered_exists_counts_as_submitted(stack, handlers):
    seed(stack, "ktp-retry-exists", JobStatus.RETRY, with_object=True)
    stack.provider.submit_reply = error_reply(400, "INVALID_PAYLOAD_REFERENCE_ID_EXISTS")
    assert run(handlers)["resubmitted"] == 1
    assert stack.item("ktp-retry-exists")["status"] == "SUBMITTED"


@pytest.mark.parametrize("status", [JobStatus.SUBMITTED, JobStatus.RETRY, JobStatus.RECEIVED])
def test_past_the_deadline_times_out_with_a_reason(stack, handlers, status):
    seed(stack, "ktp-too-old-job", status, age=4000, with_object=True)
    assert run(handlers)["timed_out"] == 1
    item = stack.item("ktp-too-old-job")
    assert item["status"] == "TIMED_OUT"
    assert "3600 seconds" in item["status_reason"]
    assert "pending_shard" not in item
    assert stack.provider.submits == []
    if status is JobStatus.RETRY:
        assert item["error_code"] == "INSUFFICIENT_QUOTA"


@pytest.mark.parametrize("status", [JobStatus.SUBMITTED, JobStatus.RETRY])
def test_the_next_check_of_a_job_near_its_deadline_is_just_after_the_deadline(stack, handlers, status):
    """Ten seconds before the deadline a backoff step (15-30 s re-poll, 120-240 s retry) would overshoot it;
    the check comes one second after it instead, so the job times out on time."""
    seed(stack, "ktp-near-deadline", status, age=3590, with_object=True)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json={"message": "processing"})
    stack.provider.submit_reply = error_reply(403, "INSUFFICIENT_QUOTA")
    run(handlers)
    item = stack.item("ktp-near-deadline")
    assert item["status"] == status.value
    # One second after the deadline; the store reads its clock again when it writes, which may
    # have ticked past a whole second since the poller computed the delay.
    assert item["created_epoch"] + 3600 + 1 <= item["next_check_at"] <= item["created_epoch"] + 3600 + 2


def test_a_slow_answer_near_the_deadline_still_gets_its_check_just_after_it(stack, handlers):
    """The provider takes 5 s to say "processing": the capped delay counts from the write, not from
    before the call (a fake clock that the answer moves on; no real waiting)."""
    from ktp_pipeline import wiring

    seed(stack, "ktp-slow-answer", JobStatus.SUBMITTED, age=3590, with_object=True)
    clock = {"now": time.time()}

    def slow_processing(ref):
        clock["now"] += 5
        return httpx.Response(200, json={"message": "processing"})

    stack.provider.result_reply = slow_processing
    wiring.job_store().now = lambda: clock["now"]
    run(handlers)
    item = stack.item("ktp-slow-answer")
    assert item["status"] == "SUBMITTED"
    assert item["next_check_at"] == item["created_epoch"] + 3600 + 1


def test_a_result_ready_at_the_deadline_still_counts(stack, handlers):
    seed(stack, "ktp-just-in-time", JobStatus.SUBMITTED, age=4000)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json=completed_body(ref))
    assert run(handlers)["completed"] == 1
    assert stack.item("ktp-just-in-time")["status"] == "COMPLETED"


def test_poll_racing_a_callback_keeps_the_first_terminal_write(stack, handlers):
    seed(stack, "ktp-race-callbk", JobStatus.SUBMITTED)

    def callback_lands_first(ref):
        event = load_event("callback_success.json")
        event["body"] = json.dumps(completed_body(ref))
        event["headers"]["authorization"] = basic(CALLBACK_USER, CALLBACK_PASSWORD)
        assert handlers["callback"].lambda_handler(event, FakeContext())["statusCode"] == 200
        return httpx.Response(200, json={"error_code": "FAIL_ON_1", "data": {"reference_id": ref}})

    stack.provider.result_reply = callback_lands_first
    counts = run(handlers)
    assert counts["already_terminal"] == 1
    assert counts.get("failed", 0) == 0
    item = stack.item("ktp-race-callbk")
    assert item["status"] == "COMPLETED"
    assert item["result_source"] == "callback"


def test_never_scans_and_never_touches_items_outside_the_index(stack, handlers, monkeypatch):
    from ktp_pipeline import wiring

    monkeypatch.setattr(wiring.dynamodb_client(), "scan", lambda **_: pytest.fail("the poller must not Scan"))
    seed(stack, "ktp-due-one-xx", JobStatus.SUBMITTED)
    store_at(stack, 0).create_received("ktp-not-due-yet", bucket=BUCKET, key="k", version_id="v", etag="e",
                                       size=1, claim_seconds=3000)
    done = store_at(stack, 5000)
    done.create_received("ktp-done-long-ago", bucket=BUCKET, key="k", version_id="v", etag="e", size=1, claim_seconds=0)
    done.finish("ktp-done-long-ago", JobStatus.REJECTED, reason="x", error_code="INVALID_PAYLOAD_IMAGE_SIZE")
    untouched = {ref: stack.raw_item(ref) for ref in ("ktp-not-due-yet", "ktp-done-long-ago")}
    counts = run(handlers)
    assert counts["checked"] == 1
    assert stack.provider.result_requests == ["ktp-due-one-xx"]
    assert {ref: stack.raw_item(ref) for ref in untouched} == untouched


def test_stops_before_the_lambda_timeout(stack, handlers):
    seed(stack, "ktp-left-for-later", JobStatus.SUBMITTED)
    before = stack.raw_item("ktp-left-for-later")
    counts = run(handlers, remaining_ms=5_000)
    assert counts["checked"] == 0
    assert counts["stopped_early"] == 1
    assert stack.raw_item("ktp-left-for-later") == before


@pytest.mark.parametrize("spare_ms,checked", [(-1, 0), (1, 1)])
def test_takes_an_item_only_while_its_worst_case_still_fits(stack, handlers, spare_ms, checked):
    from ktp_pipeline import wiring
    from ktp_pipeline.poller import stop_margin_ms_for

    margin = stop_margin_ms_for(wiring.provider_client())
    assert margin > wiring.provider_client().worst_case_seconds() * 1000  # a provider call with every retry fits
    seed(stack, "ktp-edge-of-time", JobStatus.SUBMITTED)
    assert run(handlers, remaining_ms=margin + spare_ms)["checked"] == checked


def test_concurrency_is_bounded_and_every_shard_is_swept(stack, handlers):
    refs = [f"ktp-bulk-{i:04d}" for i in range(20)]
    for ref in refs:
        seed(stack, ref, JobStatus.SUBMITTED)
    assert len({shard_for(ref, 4) for ref in refs}) == 4
    active, peak, lock = [0], [0], threading.Lock()

    def slow_ready(ref):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return httpx.Response(200, json=completed_body(ref))

    stack.provider.result_reply = slow_ready
    counts = run(handlers)
    assert counts["completed"] == len(refs)
    assert 1 <= peak[0] <= 4  # POLLER_MAX_CONCURRENCY in the test environment
    assert all(stack.item(ref)["status"] == "COMPLETED" for ref in refs)


def test_one_broken_item_does_not_stop_the_sweep(stack, handlers):
    seed(stack, "ktp-broken-item", JobStatus.SUBMITTED)
    seed(stack, "ktp-healthy-item", JobStatus.SUBMITTED)

    def reply(ref):
        if ref == "ktp-broken-item":
            raise RuntimeError("transport bug")
        return httpx.Response(200, json=completed_body(ref))

    stack.provider.result_reply = reply
    counts = run(handlers)
    assert counts["error"] == 1
    assert counts["completed"] == 1
    assert stack.item("ktp-broken-item")["status"] == "SUBMITTED"


def test_retry_resubmission_refused_with_a_400_is_rejected(stack, handlers):
    seed(stack, "ktp-retry-refused", JobStatus.RETRY, with_object=True)
    stack.provider.submit_reply = error_reply(400, "INVALID_PAYLOAD_IMAGE_FORMAT")
    assert run(handlers)["rejected"] == 1
    item = stack.item("ktp-retry-refused")
    assert item["status"] == "REJECTED"
    assert item["error_code"] == "INVALID_PAYLOAD_IMAGE_FORMAT"
    assert "next_check_at" not in item


def test_poll_result_too_large_to_store_fails_the_job_with_a_code(stack, handlers):
    seed(stack, "ktp-poll-huge", JobStatus.SUBMITTED)

    def huge(ref):
        body = completed_body(ref)
        body["data"]["full_name"] = "N" * 450_000
        return httpx.Response(200, json=body)

    stack.provider.result_reply = huge
    counts = run(handlers)
    assert counts["failed"] == 1
    item = stack.item("ktp-poll-huge")
    assert item["status"] == "FAILED"
    assert item["error_code"] == "RESULT_TOO_LARGE"
    assert "next_check_at" not in item


def test_poll_result_with_huge_quality_values_keeps_the_fields(stack, handlers):
    seed(stack, "ktp-poll-big-iq", JobStatus.SUBMITTED)

    def big_quality(ref):
        body = completed_body(ref)
        body["data"]["image_quality"]["debug"] = "q" * 450_000
        return httpx.Response(200, json=body)

    stack.provider.result_reply = big_quality
    assert run(handlers)["completed"] == 1
    item = stack.item("ktp-poll-big-iq")
    assert item["status"] == "COMPLETED"
    assert item["result"]["image_quality"] == {"blur": False, "dark": False, "flashlight": False, "grayscale": False}
    assert item["result"]["dropped"]["image_quality.debug"] > 450_000


def test_an_item_that_keeps_failing_past_the_deadline_still_times_out(stack, handlers):
    """The last look at an old job must not stop it from ending: one error per run would keep it for ever."""
    seed(stack, "ktp-old-and-broken", JobStatus.SUBMITTED, age=4000)

    def broken(ref):
        raise RuntimeError("transport bug")

    stack.provider.result_reply = broken
    run(handlers)
    assert stack.item("ktp-old-and-broken")["status"] == "TIMED_OUT"


def test_not_ready_result_is_checked_again_after_the_poll_setting(stack, handlers, monkeypatch):
    from ktp_pipeline import wiring
    from ktp_pipeline.settings import Settings

    monkeypatch.setenv(Settings.env_names()["poll_base_seconds"], "2")
    wiring.reset()
    seed(stack, "ktp-poll-setting", JobStatus.SUBMITTED)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json={"message": "processing"})
    polled_at = time.time()
    assert run(handlers)["not_ready"] == 1
    # Half fixed, half jittered: 1-2 s after the poll (the default's first step is 15-30 s).
    assert stack.item("ktp-poll-setting")["next_check_at"] - polled_at <= 3


def test_a_polled_extractor_result_keeps_its_details_in_documented_attributes(stack, handlers, capsys):
    seed(stack, "ktp-poll-details", JobStatus.SUBMITTED)
    stack.provider.result_reply = lambda ref: httpx.Response(200, json=extractor_body(ref))
    assert run(handlers)["completed"] == 1
    item = stack.item("ktp-poll-details")
    assert item["result_source"] == "poll"
    result = item["result"]
    assert result["field_confidence"] == {"nik": 0.97, "full_name": 0.91, "city": 0.88, "valid_until": 0.95,
                                          "issue_city": 0.8, "issue_date": 0.75}
    assert (result["valid_until"], result["issue_city"], result["issue_date"]) == ("SEUMUR HIDUP", "JAKARTA PUSAT", "01-02-2015")
    assert result["checks"] == [{"name": "nik_structure", "ok": True, "detail": "16 digits, valid date and serial"}]
    out = capsys.readouterr().out
    for value in ("3171234567890001", "SEUMUR HIDUP", "01-02-2015"):
        assert value not in out
