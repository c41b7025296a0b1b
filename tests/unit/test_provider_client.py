"""The httpx client against every code of the contract, through httpx.MockTransport."""

import logging

import httpx
import pytest
from ktp_pipeline.models import SubmitRequest
from ktp_pipeline.provider_client import (
    ProviderClient,
    ProviderRejected,
    ProviderTransientError,
    ResultNotFound,
)
from ktp_pipeline.secrets import ProviderCredentials

from .conftest import completed_body

CREDS = ProviderCredentials(app_id="app-1", api_key="key-1")
REQUEST = SubmitRequest(image="aGVsbG8=", validate_quality=True, reference_id="ktp-abcdef", callback_url="https://cb/x")


def client_for(handler, **kwargs) -> ProviderClient:
    sleeps: list[float] = []
    client = ProviderClient("https://provider.test/", CREDS, httpx.Client(transport=httpx.MockTransport(handler)),
                            sleep=sleeps.append, **kwargs)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def test_submit_sends_contract_body_and_auth_headers():
    seen = {}

    def handler(request: httpx.Request):
        seen["request"] = request
        return httpx.Response(200, json={"message": "accepted", "data": {"reference_id": "ktp-abcdef"}})

    accepted = client_for(handler).submit(REQUEST)
    request = seen["request"]
    assert request.url == "https://provider.test/ktp/id/extract-async"
    assert request.headers["App-ID"] == "app-1"
    assert request.headers["API-Key"] == "key-1"
    import json

    assert json.loads(request.content) == {"image": "aGVsbG8=", "validate_quality": True,
                                            "reference_id": "ktp-abcdef", "callback_url": "https://cb/x"}
    assert accepted.data.reference_id == "ktp-abcdef"


def test_callback_url_is_omitted_when_not_configured():
    seen = {}

    def handler(request):
        seen["body"] = request.content
        return httpx.Response(200, json={})

    client_for(handler).submit(REQUEST.model_copy(update={"callback_url": None}))
    assert b"callback_url" not in seen["body"]


SUBMIT_REJECTIONS = [
    (400, "INVALID_PAYLOAD"), (400, "MISSING_PAYLOAD_IMAGE"), (400, "INVALID_PAYLOAD_IMAGE_MISSING"),
    (400, "INVALID_PAYLOAD_IMAGE_SIZE"), (400, "INVALID_PAYLOAD_IMAGE_FORMAT"), (400, "INVALID_PAYLOAD_CALLBACK_URL"),
    (400, "INVALID_PAYLOAD_REFERENCE_ID"), (400, "INVALID_PAYLOAD_REFERENCE_ID_EXISTS"),
    (400, "INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY"), (422, "BAD_PAYLOAD"),
]


@pytest.mark.parametrize("status,code", SUBMIT_REJECTIONS)
def test_submit_rejections_are_typed_with_their_code(status, code):
    client = client_for(lambda r: httpx.Response(status, json={"message": "x", "error_code": code}))
    with pytest.raises(ProviderRejected) as info:
        client.submit(REQUEST)
    assert info.value.error_code == code
    assert info.value.http_status == status
    assert client.sleeps == []  # a rejection is never retried


@pytest.mark.parametrize("status,body,code", [
    (401, {"message": "Authorization failed"}, "AUTHORIZATION_FAILED"),
    (403, {"message": "quota", "error_code": "INSUFFICIENT_QUOTA"}, "INSUFFICIENT_QUOTA"),
    (429, {}, "HTTP_429"),
    # The built-in extractor's per-application throttling extension.
    (429, {"message": "Too many requests", "error_code": "TOO_MANY_REQUESTS"}, "TOO_MANY_REQUESTS"),
])
def test_auth_and_quota_errors_are_transient_without_retry_loop(status, body, code):
    client = client_for(lambda r: httpx.Response(status, json=body))
    with pytest.raises(ProviderTransientError) as info:
        client.submit(REQUEST)
    assert info.value.error_code == code
    assert client.sleeps == []


@pytest.mark.parametrize("header,expected", [("120", 120.0), ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("-5", None)])
def test_retry_after_seconds_are_kept_on_the_transient_error(header, expected):
    client = client_for(lambda r: httpx.Response(429, json={}, headers={"Retry-After": header}))
    with pytest.raises(ProviderTransientError) as info:
        client.submit(REQUEST)
    assert info.value.retry_after == expected


@pytest.mark.parametrize("body", [{"error_code": 123}, ["INVALID_PAYLOAD"], "<html>"])
def test_an_error_body_that_is_not_the_contract_s_is_classified_by_its_status(body):
    reply = httpx.Response(400, text=body) if isinstance(body, str) else httpx.Response(400, json=body)
    with pytest.raises(ProviderRejected) as info:
        client_for(lambda r: reply).submit(REQUEST)
    assert info.value.error_code == "INVALID_PAYLOAD"


def test_5xx_is_retried_with_jitter_then_succeeds():
    answers = iter([httpx.Response(500, json={"error_code": "INTERNAL_SERVER_ERROR"}), httpx.Response(503),
                    httpx.Response(200, json={"data": {"reference_id": "ktp-abcdef"}})])
    client = client_for(lambda r: next(answers), rng=lambda: 0.5)
    client.submit(REQUEST)
    assert client.sleeps == [0.25, 0.5]  # half of base·2^attempt: jitter factor from the injected rng


def test_5xx_exhausts_retries_into_a_transient_error_with_the_code():
    calls = []
    client = client_for(lambda r: calls.append(1) or httpx.Response(500, json={"error_code": "INTERNAL_SERVER_ERROR"}))
    with pytest.raises(ProviderTransientError) as info:
        client.submit(REQUEST)
    assert info.value.error_code == "INTERNAL_SERVER_ERROR"
    assert info.value.http_status == 500
    assert len(calls) == 3


def test_connect_errors_are_retried():
    attempts = []

    def handler(request):
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={})

    client_for(handler).submit(REQUEST)
    assert len(attempts) == 3


def test_read_timeout_on_submit_is_not_repeated_but_is_transient():
    attempts = []

    def handler(request):
        attempts.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ProviderTransientError) as info:
        client_for(handler).submit(REQUEST)
    assert info.value.error_code == "PROVIDER_UNREACHABLE"
    assert len(attempts) == 1


def test_result_nested_200_is_parsed():
    client = client_for(lambda r: httpx.Response(200, json=completed_body("ktp-abcdef")))
    result = client.get_result("ktp-abcdef")
    assert result.state == "completed"
    assert result.fields["nik"] == "3171234567890001"


def test_result_query_parameter_is_sent():
    seen = {}

    def handler(request):
        seen["url"] = request.url
        return httpx.Response(200, json={"message": "processing"})

    assert client_for(handler).get_result("ktp-abcdef").state == "pending"
    assert seen["url"].params["reference_id"] == "ktp-abcdef"
    assert seen["url"].path == "/ktp/id/extract-async/result"


@pytest.mark.parametrize("code", ["FAIL_ON_1", "KTP_NOT_DETECTED", "INTERNAL_SERVER_ERROR"])
def test_result_processing_failures_are_200_with_error_code(code):
    result = client_for(lambda r: httpx.Response(200, json={"error_code": code, "data": {}})).get_result("ktp-abcdef")
    assert result.state == "failed"
    assert result.error_code == code


def test_result_404_is_not_found():
    client = client_for(lambda r: httpx.Response(404, json={"error_code": "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"}))
    with pytest.raises(ResultNotFound) as info:
        client.get_result("ktp-abcdef")
    assert info.value.error_code == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"


def test_result_400_is_a_rejection():
    client = client_for(lambda r: httpx.Response(400, json={"error_code": "INVALID_PAYLOAD_REFERENCE_ID"}))
    with pytest.raises(ProviderRejected):
        client.get_result("ktp-abcdef")


def test_result_read_errors_are_retried_because_get_is_idempotent():
    attempts = []

    def handler(request):
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"message": "processing"})

    client_for(handler).get_result("ktp-abcdef")
    assert len(attempts) == 2


def test_non_json_result_is_transient():
    with pytest.raises(ProviderTransientError):
        client_for(lambda r: httpx.Response(200, text="<html>")).get_result("ktp-abcdef")


def test_nothing_personal_or_secret_is_logged(caplog, logs):
    caplog.set_level(logging.DEBUG)
    answers = iter([httpx.Response(500), httpx.Response(400, json={"error_code": "INVALID_PAYLOAD_IMAGE_FORMAT",
                                                                   "message": "bad"})])
    with pytest.raises(ProviderRejected):
        client_for(lambda r: next(answers)).submit(REQUEST)
    client_for(lambda r: httpx.Response(200, json=completed_body("ktp-abcdef"))).get_result("ktp-abcdef")
    text = caplog.text + logs.getvalue()  # httpx logs via logging, Powertools to its own stream
    assert "provider error response" in text  # the log lines exist, and are clean:
    for secret in ("aGVsbG8=", "key-1", "3171234567890001", "CONTOH NAMA"):
        assert secret not in text
