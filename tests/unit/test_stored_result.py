"""What of a result is stored: everything that fits DynamoDB's 400 KB item, the contract fields first."""

from ktp_pipeline.models import ExtractionResult, JobStatus
from ktp_pipeline.stored_result import MAX_EXTRA_BYTES, MAX_RESULT_BYTES, RESULT_TOO_LARGE, size_of, stored_result

from .conftest import completed_body

REF = "ktp-stored-result"


def parse(body):
    return ExtractionResult.parse(body)


def test_a_normal_result_is_kept_whole():
    body = completed_body(REF)
    body["data"]["liveness"] = {"score": 0.5}
    stored = stored_result(parse(body))
    assert stored.status is JobStatus.COMPLETED
    assert stored.error_code is None
    assert stored.status_code == "BILLED"
    assert stored.result["extra"] == {"liveness": {"score": 0.5}}
    assert stored.result["message"] == "success"
    assert "dropped" not in stored.result


def test_unknown_keys_over_their_own_bound_go_even_when_the_item_would_fit():
    body = completed_body(REF)
    body["data"]["debug"] = "x" * (MAX_EXTRA_BYTES + 1)
    stored = stored_result(parse(body))
    assert "extra" not in stored.result
    assert stored.result["dropped"] == {"extra": size_of({"debug": "x" * (MAX_EXTRA_BYTES + 1)})}
    assert stored.result["message"] == "success"


def test_message_then_quality_texts_go_before_any_field():
    body = completed_body(REF)
    body["message"] = "m" * MAX_RESULT_BYTES
    body["data"]["image_quality"]["note"] = "n" * MAX_RESULT_BYTES
    body["data"]["image_quality"]["blur_score"] = 0.25
    stored = stored_result(parse(body))
    assert stored.status is JobStatus.COMPLETED
    assert set(stored.result["dropped"]) == {"message", "image_quality.note"}
    assert stored.result["image_quality"]["blur_score"] == 0.25
    assert stored.result["fields"]["nik"] == "3171234567890001"
    assert size_of([stored.result, stored.status_code, stored.error_code, stored.reason]) <= MAX_RESULT_BYTES


def test_fields_that_fit_are_kept_whole_even_when_large():
    body = completed_body(REF)
    body["data"]["address"] = "A" * (MAX_RESULT_BYTES - 10_000)
    stored = stored_result(parse(body))
    assert stored.status is JobStatus.COMPLETED
    assert stored.result["fields"]["address"] == body["data"]["address"]


def test_fields_too_large_fail_with_the_code_and_keep_nothing():
    body = completed_body(REF)
    body["data"]["address"] = "A" * (MAX_RESULT_BYTES + 1)
    stored = stored_result(parse(body))
    assert stored.status is JobStatus.FAILED
    assert stored.error_code == RESULT_TOO_LARGE
    assert stored.result is None
    assert stored.status_code is None
    assert "too large" in stored.reason


def test_a_huge_error_code_cannot_make_the_item_too_large():
    stored = stored_result(parse({"error_code": "E" * 500_000, "data": {"reference_id": REF}}))
    assert stored.status is JobStatus.FAILED
    assert stored.error_code == RESULT_TOO_LARGE


def test_a_failed_result_keeps_its_quality_flags():
    body = {"error_code": "FAIL_ON_1", "data": {"reference_id": REF, "image_quality": {"blur": True}}}
    stored = stored_result(parse(body))
    assert stored.status is JobStatus.FAILED
    assert stored.error_code == "FAIL_ON_1"
    assert stored.result == {"fields": {}, "image_quality": {"blur": True}}
