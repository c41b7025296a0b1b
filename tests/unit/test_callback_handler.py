"""functions/callback/app.py with the events/callback_*.json files (HTTP API payload 2.0)."""

import base64
import json

import pytest
from ktp_pipeline.job_store import JobStore
from ktp_pipeline.models import JobStatus

from .conftest import (
    CALLBACK_PASSWORD,
    CALLBACK_SECRET,
    CALLBACK_USER,
    TABLE_NAME,
    FakeContext,
    basic,
    completed_body,
    extractor_body,
    load_event,
)

REF = json.loads(load_event("callback_success.json")["body"])["data"]["reference_id"]


@pytest.fixture
def submitted(stack):
    store = JobStore(stack.dynamodb, TABLE_NAME)
    store.create_received(REF, bucket="b", key="incoming/x.jpg", version_id="v1", etag="e", size=1, claim_seconds=60)
    store.mark_submitted(REF, 60, "sent")
    return store


@pytest.fixture
def secret_matches_events(stack):
    """The events carry `ktp-callback:local-callback-password`, the pair the stack fixture stores."""
    auth = load_event("callback_success.json")["headers"]["authorization"]
    assert auth == basic(CALLBACK_USER, CALLBACK_PASSWORD)


def call(handlers, event):
    return handlers["callback"].lambda_handler(event, FakeContext())


def test_success_event_completes_the_job(stack, handlers, submitted, secret_matches_events):
    reply = call(handlers, load_event("callback_success.json"))
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"])["reference_id"] == REF
    item = stack.item(REF)
    assert item["status"] == "COMPLETED"
    assert item["result_source"] == "callback"
    assert item["status_code"] == "BILLED"
    assert item["result"]["fields"]["full_name"] == "CONTOH NAMA"
    assert "blood_type" not in item["result"]["fields"]  # "-" means unknown
    assert item["result"]["image_quality"]["blur"] is False
    assert "pending_shard" not in item
    assert "next_check_at" not in item


def test_failure_event_fails_the_job_with_the_code(stack, handlers, submitted):
    reply = call(handlers, load_event("callback_failure.json"))
    assert reply["statusCode"] == 200
    item = stack.item(REF)
    assert item["status"] == "FAILED"
    assert item["error_code"] == "FAIL_ON_1"
    assert item["result_source"] == "callback"
    assert "quality" in item["status_reason"]
    assert item["result"]["image_quality"]["blur"] is True


@pytest.mark.parametrize("authorization", [None, "Bearer abc", basic(CALLBACK_USER, "nope"), "Basic %%%"])
def test_wrong_or_missing_auth_is_401_with_challenge_and_no_write(stack, handlers, submitted, authorization):
    event = load_event("callback_success.json")
    if authorization is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = authorization
    before = stack.raw_item(REF)
    reply = call(handlers, event)
    assert reply["statusCode"] == 401
    assert reply["headers"]["WWW-Authenticate"].startswith('Basic realm="')
    assert stack.raw_item(REF) == before


def test_bad_auth_event_file_is_refused(stack, handlers, submitted):
    reply = call(handlers, load_event("callback_bad_auth.json"))
    assert reply["statusCode"] == 401
    assert stack.item(REF)["status"] == "SUBMITTED"


def test_rotated_password_is_picked_up_without_waiting_for_the_cache(stack, handlers, submitted):
    call(handlers, load_event("callback_bad_auth.json"))  # warms the cache with the old pair
    stack.secrets.put_secret_value(SecretId=CALLBACK_SECRET,
                                   SecretString=json.dumps({"username": CALLBACK_USER, "password": "rotated-pw"}))
    from ktp_pipeline import secrets

    secrets.reset_refresh_limiter()
    event = load_event("callback_success.json")
    event["headers"]["authorization"] = basic(CALLBACK_USER, "rotated-pw")
    assert call(handlers, event)["statusCode"] == 200


def test_unreadable_secret_fails_closed(stack, handlers, submitted):
    stack.secrets.delete_secret(SecretId=CALLBACK_SECRET, ForceDeleteWithoutRecovery=True)
    before = stack.raw_item(REF)
    reply = call(handlers, load_event("callback_success.json"))
    assert reply["statusCode"] == 500
    assert stack.raw_item(REF) == before


def test_secret_without_password_fails_closed(stack, handlers, submitted):
    stack.secrets.put_secret_value(SecretId=CALLBACK_SECRET, SecretString=json.dumps({"username": "u"}))
    assert call(handlers, load_event("callback_success.json"))["statusCode"] == 500


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "", json.dumps({"data": {"nik": "1"}}),
                                  json.dumps({"message": "processing", "data": {"reference_id": REF}}),
                                  json.dumps({"data": {"reference_id": "x y"}, "error_code": "FAIL_ON_1"})])
def test_malformed_bodies_are_400_and_write_nothing(stack, handlers, submitted, body):
    event = load_event("callback_success.json")
    event["body"] = body
    before = stack.raw_item(REF)
    assert call(handlers, event)["statusCode"] == 400
    assert stack.raw_item(REF) == before


def test_base64_encoded_flat_body_is_understood(stack, handlers, submitted):
    event = load_event("callback_success.json")
    event["body"] = base64.b64encode(json.dumps(completed_body(REF, nested=False)).encode()).decode()
    event["isBase64Encoded"] = True
    assert call(handlers, event)["statusCode"] == 200
    assert stack.item(REF)["result"]["fields"]["nik"] == "3171234567890001"


def test_two_callbacks_first_one_wins(stack, handlers, submitted):
    assert call(handlers, load_event("callback_success.json"))["statusCode"] == 200
    after_first = stack.raw_item(REF)
    assert call(handlers, load_event("callback_failure.json"))["statusCode"] == 200  # late duplicate: 200, no change
    assert call(handlers, load_event("callback_success.json"))["statusCode"] == 200
    assert stack.raw_item(REF) == after_first


@pytest.mark.parametrize("terminal", [JobStatus.TIMED_OUT, JobStatus.REJECTED])
def test_late_callback_after_terminal_changes_nothing(stack, handlers, submitted, terminal):
    if terminal is JobStatus.REJECTED:
        submitted.mark_retry(REF, "HTTP_503", "retry", 60)  # only a job the provider does not have is refused
    assert submitted.finish(REF, terminal, reason="earlier", error_code="X") == terminal.value.lower()
    before = stack.raw_item(REF)
    assert call(handlers, load_event("callback_success.json"))["statusCode"] == 200
    assert stack.raw_item(REF) == before


def test_unknown_reference_is_stored_and_flagged(stack, handlers):
    event = load_event("callback_success.json")
    body = completed_body("ktp-neverseenbefore")
    event["body"] = json.dumps(body)
    assert call(handlers, event)["statusCode"] == 200
    item = stack.item("ktp-neverseenbefore")
    assert item["orphan_callback"] is True
    assert item["status"] == "COMPLETED"
    assert item["result_source"] == "callback"


def test_other_routes_are_not_served(stack, handlers):
    event = load_event("callback_success.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/other"
    event["routeKey"] = "POST /other"
    assert call(handlers, event)["statusCode"] == 404


def test_no_personal_data_in_logs(stack, handlers, submitted, logs, capsys):
    call(handlers, load_event("callback_success.json"))
    out = logs.getvalue() + capsys.readouterr().out
    assert REF in out
    for value in ("3171234567890001", "CONTOH NAMA", CALLBACK_PASSWORD):
        assert value not in out


def test_huge_message_is_left_out_and_the_fields_kept(stack, handlers, submitted):
    """A body whose item would pass DynamoDB's 400 KB: the oversized extras go, the contract fields stay."""
    event = load_event("callback_success.json")
    body = completed_body(REF)
    body["message"] = "m" * 500_000
    event["body"] = json.dumps(body)
    assert call(handlers, event)["statusCode"] == 200
    item = stack.item(REF)
    assert item["status"] == "COMPLETED"
    assert item["result"]["fields"]["nik"] == "3171234567890001"
    assert "message" not in item["result"]
    assert item["result"]["dropped"]["message"] > 500_000


def test_fields_too_large_to_store_fail_the_job_with_a_code(stack, handlers, submitted):
    event = load_event("callback_success.json")
    body = completed_body(REF)
    body["data"]["address"] = "JL. " + "A" * 450_000
    event["body"] = json.dumps(body)
    assert call(handlers, event)["statusCode"] == 200
    item = stack.item(REF)
    assert item["status"] == "FAILED"
    assert item["error_code"] == "RESULT_TOO_LARGE"
    assert "result" not in item
    assert "pending_shard" not in item


BINARY = base64.b64encode(b"\xff\xfe\x00\x80 not utf-8 \xc3\x28").decode()


@pytest.mark.parametrize("authorization", [None, basic(CALLBACK_USER, "nope")])
def test_binary_body_without_valid_auth_is_401_not_500(stack, handlers, submitted, authorization):
    event = load_event("callback_success.json")
    event["body"], event["isBase64Encoded"] = BINARY, True
    if authorization is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = authorization
    reply = call(handlers, event)
    assert reply["statusCode"] == 401


def test_binary_body_with_valid_auth_is_400_and_writes_nothing(stack, handlers, submitted):
    event = load_event("callback_success.json")
    event["body"], event["isBase64Encoded"] = BINARY, True
    before = stack.raw_item(REF)
    reply = call(handlers, event)
    assert reply["statusCode"] == 400
    assert stack.raw_item(REF) == before


def test_authorization_header_name_is_case_insensitive(stack, handlers, submitted):
    event = load_event("callback_success.json")
    event["headers"]["AuThOrIzAtIoN"] = event["headers"].pop("authorization")
    assert call(handlers, event)["statusCode"] == 200


def test_the_extractors_details_land_in_documented_attributes(stack, handlers, submitted, logs, capsys):
    event = load_event("callback_success.json")
    event["body"] = json.dumps(extractor_body(REF))
    assert call(handlers, event)["statusCode"] == 200
    result = stack.item(REF)["result"]
    assert result["field_confidence"]["nik"] == 0.97
    assert (result["valid_until"], result["issue_city"], result["issue_date"]) == ("SEUMUR HIDUP", "JAKARTA PUSAT", "01-02-2015")
    assert result["checks"][0]["name"] == "nik_structure"
    assert "confidence" not in result["extra"]["ktp_extractor"]
    out = logs.getvalue() + capsys.readouterr().out
    for value in ("3171234567890001", "CONTOH NAMA", "SEUMUR HIDUP", "01-02-2015"):
        assert value not in out
