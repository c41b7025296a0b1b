"""The event shim: SQS-carried S3 notifications, HTTP API v2.0 events and responses, schedules."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from local.events import (
    HttpRequest,
    complete_s3_record,
    http_api_event,
    http_response_from_result,
    match_route,
    s3_event_from_message,
    scheduled_event,
)

MOTO_RECORD = {
    "eventVersion": "2.1",
    "eventSource": "aws:s3",
    "awsRegion": "ap-southeast-3",
    "eventTime": "2026-11-27T07:00:00.000Z",
    "eventName": "ObjectCreated:Put",
    "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "n1",
        "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
        "object": {"key": "incoming/kartu+saya+%C3%B1%2B1.jpg", "size": 10, "eTag": "abc", "versionId": "v1"},
    },
}


def test_test_event_is_skipped() -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "t", "Bucket": "b"})
    assert s3_event_from_message(body) is None


def test_s3_records_pass_through_and_are_completed_without_changes() -> None:
    event = s3_event_from_message(json.dumps({"Records": [MOTO_RECORD]}))
    assert event is not None
    (record,) = event["Records"]
    # What moto sent is untouched (the key stays URL-encoded as S3 sends it) ...
    assert record["s3"]["object"]["key"] == "incoming/kartu+saya+%C3%B1%2B1.jpg"
    assert record["s3"]["object"]["versionId"] == "v1"
    assert record["eventName"] == "ObjectCreated:Put"
    # ... and the fields AWS always sends are present.
    assert record["userIdentity"]["principalId"]
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert "x-amz-request-id" in record["responseElements"]
    assert len(record["s3"]["object"]["sequencer"]) == 16


def test_completion_never_overrides_existing_fields() -> None:
    record = json.loads(json.dumps(MOTO_RECORD))
    record["userIdentity"] = {"principalId": "AWS:REAL"}
    record["s3"]["object"]["sequencer"] = "0055AED6DCD90281E5"
    completed = complete_s3_record(record)
    assert completed["userIdentity"] == {"principalId": "AWS:REAL"}
    assert completed["s3"]["object"]["sequencer"] == "0055AED6DCD90281E5"
    assert "userIdentity" not in MOTO_RECORD  # the input is not mutated


@pytest.mark.parametrize("body", ['{"Records": []}', '{"hello": 1}', "[1, 2]"])
def test_non_s3_messages_are_refused(body: str) -> None:
    with pytest.raises(ValueError):
        s3_event_from_message(body)


def test_http_api_event_has_payload_format_2_0_shape() -> None:
    now = datetime(2026, 11, 27, 7, 0, 0, tzinfo=UTC)
    request = HttpRequest(
        method="POST",
        path="/callback",
        query="a=1&a=2&b=",
        headers=[("Content-Type", "application/json"), ("Authorization", "Basic eDp5"), ("X-Dup", "1"),
                 ("X-Dup", "2"), ("Cookie", "c1=v1; c2=v2"), ("User-Agent", "ktp-extractor")],
        body=b'{"reference_id": "ktp-1"}',
    )
    event = http_api_event(request, route_key="POST /callback", api_id="local", region="ap-southeast-3",
                           account_id="123456789012", now=now)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /callback"
    assert event["rawPath"] == "/callback"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["headers"]["authorization"] == "Basic eDp5"  # lower-cased names
    assert event["headers"]["x-dup"] == "1,2"  # repeated headers comma-joined
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["body"] == '{"reference_id": "ktp-1"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {"method": "POST", "path": "/callback", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "ktp-extractor"}
    assert context["stage"] == "$default"
    assert context["timeEpoch"] == int(now.timestamp() * 1000)
    assert context["domainName"] == "local.execute-api.ap-southeast-3.amazonaws.com"


def test_binary_bodies_are_base64_and_empty_bodies_absent() -> None:
    binary = http_api_event(HttpRequest("POST", "/x", headers=[("Content-Type", "image/jpeg")], body=b"\xff\xd8\x00"),
                            route_key="POST /x", api_id="a", region="r", account_id="1")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\xd8\x00"
    empty = http_api_event(HttpRequest("GET", "/x"), route_key="GET /x", api_id="a", region="r", account_id="1")
    assert "body" not in empty
    assert "queryStringParameters" not in empty


def test_response_mapping_follows_api_gateway_rules() -> None:
    full = http_response_from_result(
        {"statusCode": 401, "headers": {"WWW-Authenticate": "Basic"}, "body": '{"message": "no"}', "cookies": ["a=b"]}
    )
    assert full.status == 401
    assert full.body == b'{"message": "no"}'
    assert ("WWW-Authenticate", "Basic") in full.headers
    assert ("Set-Cookie", "a=b") in full.headers
    encoded = http_response_from_result({"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True})
    assert encoded.body == b"\x00\x01"
    # Without statusCode the whole result is the JSON body of a 200.
    bare = http_response_from_result({"ok": True})
    assert bare.status == 200
    assert json.loads(bare.body) == {"ok": True}
    assert ("Content-Type", "application/json") in bare.headers


def test_route_matching() -> None:
    routes = [("POST", "/callback"), ("GET", "/jobs/{id}"), ("ANY", "/files/{proxy+}")]
    assert match_route(routes, "POST", "/callback") == ("POST /callback", {})
    assert match_route(routes, "GET", "/callback") is None
    assert match_route(routes, "POST", "/callback/extra") is None
    assert match_route(routes, "GET", "/jobs/ktp-1") == ("GET /jobs/{id}", {"id": "ktp-1"})
    assert match_route(routes, "DELETE", "/files/a/b.jpg") == ("ANY /files/{proxy+}", {"proxy": "a/b.jpg"})


def test_scheduled_event_shape() -> None:
    event = scheduled_event("arn:aws:events:r:1:rule/x", "r", "1", now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:r:1:rule/x"]
    assert event["time"] == "2026-01-02T03:04:05Z"
    assert event["detail"] == {}
