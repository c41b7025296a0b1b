"""functions/submit/app.py with events/s3_put.json, moto S3/DynamoDB/Secrets Manager and a MockTransport provider."""

import base64
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from ktp_pipeline.reference_ids import reference_id_for

from .conftest import (
    API_KEY,
    APP_ID,
    BUCKET,
    CALLBACK_PASSWORD,
    CALLBACK_URL,
    CALLBACK_USER,
    FakeContext,
    basic,
    completed_body,
    error_reply,
    load_event,
    make_image,
)

KEY = "incoming/scan batch 7/kartu über a+b.jpg"


def ref_for(event):
    obj = event["Records"][0]["s3"]["object"]
    return reference_id_for(BUCKET, KEY, obj["versionId"], obj["eTag"])


def invoke(handlers, event):
    return handlers["submit"].lambda_handler(event, FakeContext())


def test_event_file_key_is_decoded_and_image_submitted(stack, handlers):
    image = make_image()
    event = stack.s3_event(KEY, image)
    assert event["Records"][0]["s3"]["object"]["key"] == "incoming/scan+batch+7/kartu+%C3%BCber+a%2Bb.jpg"
    result = invoke(handlers, event)
    ref = ref_for(event)
    assert result == {"outcomes": [{"reference_id": ref, "action": "submitted"}]}
    [body] = stack.provider.submits
    assert base64.b64decode(body["image"]) == image
    assert body == {"image": body["image"], "validate_quality": True, "reference_id": ref, "callback_url": CALLBACK_URL}
    assert stack.provider.headers_seen[0]["app-id"] == APP_ID
    assert stack.provider.headers_seen[0]["api-key"] == API_KEY
    item = stack.item(ref)
    assert item["status"] == "SUBMITTED"
    assert item["object_key"] == KEY
    assert item["submit_attempts"] == 1
    assert item["pending_shard"] in {"0", "1", "2", "3"}
    assert item["next_check_at"] > 0


def test_presigned_url_transport_sends_a_url_for_that_version(stack, handlers, monkeypatch):
    monkeypatch.setenv("IMAGE_TRANSPORT", "presigned_url")
    from ktp_pipeline import wiring

    wiring.reset()
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    url = urlparse(stack.provider.submits[0]["image"])
    query = parse_qs(url.query)
    assert query["versionId"] == [event["Records"][0]["s3"]["object"]["versionId"]]
    assert "X-Amz-Signature" in query
    assert query["X-Amz-Expires"] == ["900"]


@pytest.mark.parametrize("data,code", [
    (b"GIF89a" + b"\x00" * 2000, "INVALID_PAYLOAD_IMAGE_FORMAT"),
    (make_image(640, 400), "INVALID_PAYLOAD_IMAGE_SIZE"),
    (make_image(1000, 700)[:20], "INVALID_PAYLOAD_IMAGE_FORMAT"),  # cut before the frame header
])
def test_local_rejections_never_call_the_provider(stack, handlers, data, code):
    event = stack.s3_event(KEY, data)
    assert invoke(handlers, event)["outcomes"][0]["action"] == "rejected"
    item = stack.item(ref_for(event))
    assert item["status"] == "REJECTED"
    assert item["error_code"] == code
    assert item["status_reason"]
    assert "pending_shard" not in item
    assert stack.provider.submits == []


def test_oversized_object_is_rejected_from_the_event_size_without_download(stack, handlers, monkeypatch):
    event = stack.s3_event(KEY, make_image(), size=50 * 1024 * 1024)
    from ktp_pipeline import wiring

    s3 = wiring.s3_client()
    monkeypatch.setattr(s3, "get_object", lambda **_: pytest.fail("a 50 MB object must not be downloaded"))
    invoke(handlers, event)
    assert stack.item(ref_for(event))["error_code"] == "INVALID_PAYLOAD_IMAGE_SIZE"
    assert stack.provider.submits == []


def test_object_deleted_before_processing_is_rejected_with_a_reason(stack, handlers):
    event = stack.s3_event(KEY, make_image())
    obj = event["Records"][0]["s3"]["object"]
    stack.s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=obj["versionId"])
    invoke(handlers, event)
    item = stack.item(ref_for(event))
    assert item["status"] == "REJECTED"
    assert item["error_code"] == "OBJECT_NOT_FOUND"


REJECTING_CODES = [
    (400, "INVALID_PAYLOAD"), (400, "MISSING_PAYLOAD_IMAGE"), (400, "INVALID_PAYLOAD_IMAGE_MISSING"),
    (400, "INVALID_PAYLOAD_IMAGE_SIZE"), (400, "INVALID_PAYLOAD_IMAGE_FORMAT"), (400, "INVALID_PAYLOAD_CALLBACK_URL"),
    (400, "INVALID_PAYLOAD_REFERENCE_ID"), (400, "INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY"),
    (422, "BAD_PAYLOAD"),
]


@pytest.mark.parametrize("status,code", REJECTING_CODES)
def test_provider_400_codes_reject_the_job_with_the_code(stack, handlers, status, code):
    stack.provider.submit_reply = error_reply(status, code)
    event = stack.s3_event(KEY, make_image())
    assert invoke(handlers, event)["outcomes"][0]["action"] == "rejected"
    item = stack.item(ref_for(event))
    assert item["status"] == "REJECTED"
    assert item["error_code"] == code
    assert item["status_reason"]
    assert "next_check_at" not in item


def test_reference_id_exists_means_already_submitted(stack, handlers):
    stack.provider.submit_reply = error_reply(400, "INVALID_PAYLOAD_REFERENCE_ID_EXISTS")
    event = stack.s3_event(KEY, make_image())
    assert invoke(handlers, event)["outcomes"][0]["action"] == "already_submitted"
    item = stack.item(ref_for(event))
    assert item["status"] == "SUBMITTED"
    assert "error_code" not in item


@pytest.mark.parametrize("status,code,expected", [
    (401, None, "AUTHORIZATION_FAILED"),
    (403, "INSUFFICIENT_QUOTA", "INSUFFICIENT_QUOTA"),
    (429, "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"),  # the built-in extractor's throttling extension
    (500, "INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR"),
    (503, None, "HTTP_503"),
])
def test_transient_provider_errors_put_the_job_in_retry_with_backoff(stack, handlers, status, code, expected):
    stack.provider.submit_reply = error_reply(status, code)
    event = stack.s3_event(KEY, make_image())
    assert invoke(handlers, event)["outcomes"][0]["action"] == "retry"
    item = stack.item(ref_for(event))
    assert item["status"] == "RETRY"
    assert item["error_code"] == expected
    assert item["retry_count"] == 1
    assert item["next_check_at"] >= item["created_epoch"] + 30  # backoff, not an immediate hammering


def test_a_429_s_retry_after_pushes_the_next_attempt_back(stack, handlers):
    body = {"message": "Too many requests", "error_code": "TOO_MANY_REQUESTS"}
    stack.provider.submit_reply = lambda *_: httpx.Response(429, json=body, headers={"Retry-After": "7200"})
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    item = stack.item(ref_for(event))
    assert item["status"] == "RETRY"
    # Longer than our own first step (30-60 s), capped at our longest (900 s): never sooner than asked.
    assert item["next_check_at"] - item["created_epoch"] >= 890


@pytest.mark.parametrize("reply", [error_reply(500, "INTERNAL_SERVER_ERROR"), None], ids=["retry", "submitted"])
def test_no_check_is_scheduled_past_a_short_deadline(stack, handlers, monkeypatch, reply):
    """A deadline shorter than the first check (60 s) or the first retry step (30-60 s) still ends on time."""
    from ktp_pipeline import wiring
    from ktp_pipeline.settings import Settings

    monkeypatch.setenv(Settings.env_names()["job_deadline_seconds"], "20")
    wiring.reset()
    if reply is not None:
        stack.provider.submit_reply = reply
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    item = stack.item(ref_for(event))
    assert item["status"] == ("RETRY" if reply else "SUBMITTED")
    # Just after the deadline: up to two clock ticks between the create, the delay and the write.
    assert item["next_check_at"] <= item["created_epoch"] + 20 + 3


def test_timeout_puts_the_job_in_retry(stack, handlers):
    def timeout(body):
        raise httpx.ReadTimeout("slow")

    stack.provider.submit_reply = timeout
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    item = stack.item(ref_for(event))
    assert item["status"] == "RETRY"
    assert item["error_code"] == "PROVIDER_UNREACHABLE"


def test_duplicate_event_makes_no_second_provider_call(stack, handlers):
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    assert invoke(handlers, event)["outcomes"][0]["action"] == "duplicate"
    assert len(stack.provider.submits) == 1


def test_duplicate_event_after_completion_changes_nothing(stack, handlers):
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    ref = ref_for(event)
    reply = handlers["callback"].lambda_handler(_callback_event(completed_body(ref)), FakeContext())
    assert reply["statusCode"] == 200
    before = stack.raw_item(ref)
    assert invoke(handlers, event)["outcomes"][0]["action"] == "duplicate"
    assert stack.raw_item(ref) == before
    assert len(stack.provider.submits) == 1


def test_callback_arriving_before_the_submitted_write_wins(stack, handlers):
    """The provider calls back while our submit request is still open: COMPLETED must stand."""
    def submit_and_call_back(body):
        reply = handlers["callback"].lambda_handler(_callback_event(completed_body(body["reference_id"])), FakeContext())
        assert reply["statusCode"] == 200
        return httpx.Response(200, json={"message": "accepted", "data": {"reference_id": body["reference_id"]}})

    stack.provider.submit_reply = submit_and_call_back
    event = stack.s3_event(KEY, make_image())
    assert invoke(handlers, event)["outcomes"][0]["action"] == "lost_race"
    item = stack.item(ref_for(event))
    assert item["status"] == "COMPLETED"
    assert item["result_source"] == "callback"
    assert item["result"]["fields"]["nik"] == "3171234567890001"
    assert "next_check_at" not in item


def test_s3_test_event_does_nothing(stack, handlers):
    result = invoke(handlers, {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-27T07:00:00Z",
                               "Bucket": BUCKET, "RequestId": "r", "HostId": "h"})
    assert result == {"outcomes": []}
    assert stack.dynamodb.scan(TableName="ktp-jobs-test")["Count"] == 0


def test_new_content_under_the_same_key_is_a_new_job(stack, handlers):
    first = stack.s3_event(KEY, make_image())
    second = stack.s3_event(KEY, make_image(1200, 800))
    invoke(handlers, first)
    invoke(handlers, second)
    assert ref_for(first) != ref_for(second)
    assert len(stack.provider.submits) == 2


def test_same_bytes_uploaded_twice_is_one_job_and_one_provider_call(stack, handlers):
    image = make_image()
    first = stack.s3_event(KEY, image)
    second = stack.s3_event(KEY, image)  # a new version of the same bytes in the versioned bucket
    assert first["Records"][0]["s3"]["object"]["versionId"] != second["Records"][0]["s3"]["object"]["versionId"]
    invoke(handlers, first)
    assert invoke(handlers, second)["outcomes"][0]["reference_id"] == ref_for(first)
    assert len(stack.provider.submits) == 1
    assert stack.item(ref_for(first))["status"] == "SUBMITTED"


def test_no_object_key_or_image_in_logs(stack, handlers, logs, capsys):
    event = stack.s3_event(KEY, make_image())
    invoke(handlers, event)
    out = logs.getvalue() + capsys.readouterr().out
    assert ref_for(event) in out  # correlation id is logged
    assert "kartu" not in out
    assert stack.provider.submits[0]["image"][:40] not in out


def _callback_event(body):
    import json

    event = load_event("callback_success.json")
    event["body"] = json.dumps(body)
    event["headers"]["authorization"] = basic(CALLBACK_USER, CALLBACK_PASSWORD)
    return event


def test_unreadable_provider_secret_puts_the_job_in_retry(stack, handlers):
    from .conftest import PROVIDER_SECRET

    stack.secrets.delete_secret(SecretId=PROVIDER_SECRET, ForceDeleteWithoutRecovery=True)
    event = stack.s3_event(KEY, make_image())
    assert invoke(handlers, event)["outcomes"][0]["action"] == "retry"
    item = stack.item(ref_for(event))
    assert item["status"] == "RETRY"
    assert item["error_code"] == "PROVIDER_CREDENTIALS_UNAVAILABLE"
    assert stack.provider.submits == []


def test_unexpected_failure_is_raised_for_lambda_retry_and_logged_without_its_message(stack, handlers, logs,
                                                                                      monkeypatch):
    from ktp_pipeline import wiring

    event = stack.s3_event(KEY, make_image())

    def explode(*args, **kwargs):
        raise RuntimeError("message that could carry kartu über data")

    monkeypatch.setattr(wiring.job_store(), "create_received", explode)
    with pytest.raises(RuntimeError):
        invoke(handlers, event)
    out = logs.getvalue()
    assert "RuntimeError" in out
    assert "kartu" not in out


def test_provider_echoing_another_reference_id_is_flagged_in_logs(stack, handlers, logs):
    stack.provider.submit_reply = lambda body: httpx.Response(200, json={"data": {"reference_id": "provider-own-id"}})
    event = stack.s3_event(KEY, make_image())
    assert invoke(handlers, event)["outcomes"][0]["action"] == "submitted"
    assert "provider-own-id" in logs.getvalue()
