"""The event shim: what AWS would hand each function, built from what the local stack sees.

- S3 notifications arrive as SQS message bodies; :func:`s3_event_from_message` returns the event
  the submitter gets (``None`` for ``s3:TestEvent``), completing moto's records to AWS's documented
  shape.
- HTTP requests to the local callback endpoint become API Gateway HTTP API payload format 2.0
  events (:func:`http_api_event`); the handler's answer becomes an HTTP response
  (:func:`http_response_from_result`) with API Gateway's rules for payload 2.0.
- The schedule produces EventBridge ``Scheduled Event`` events (:func:`scheduled_event`).
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

# API Gateway's payload limit for HTTP APIs.
MAX_HTTP_API_BODY_BYTES = 10 * 1024 * 1024

_sequencer = itertools.count(1)
_TEXT_TYPES = ("application/json", "application/xml", "application/x-www-form-urlencoded", "text/")


def s3_event_from_message(body: str | bytes) -> dict[str, Any] | None:
    """The S3 event inside an SQS message body; ``None`` for the ``s3:TestEvent`` S3 sends when a
    notification is configured. Raises ``ValueError`` for anything that is not an S3 notification."""
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("SQS message body is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return None
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise ValueError("SQS message body holds no S3 Records")
    return {"Records": [complete_s3_record(record) for record in records]}


def complete_s3_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Add the fields AWS always sends and moto omits (identity, request ids, sequencer), without
    touching anything already present."""
    completed = json.loads(json.dumps(record))  # deep copy
    completed.setdefault("eventVersion", "2.1")
    completed.setdefault("eventSource", "aws:s3")
    completed.setdefault("userIdentity", {"principalId": "AWS:LOCALUSER"})
    completed.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    completed.setdefault(
        "responseElements",
        {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
    )
    s3 = completed.setdefault("s3", {})
    s3.setdefault("s3SchemaVersion", "1.0")
    obj = s3.setdefault("object", {})
    obj.setdefault("sequencer", f"{next(_sequencer):016X}")
    return completed


@dataclass(frozen=True)
class HttpRequest:
    """A request as the local HTTP endpoint received it."""

    method: str
    path: str
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"


def http_api_event(
    request: HttpRequest,
    *,
    route_key: str,
    api_id: str,
    region: str,
    account_id: str,
    stage: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0."""
    now = now or datetime.now(UTC)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # HTTP API joins repeated headers with commas.
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    body, is_base64 = _event_body(request.body, headers.get("content-type", ""))
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": request.method.upper(),
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        event["body"] = body
    return event


def _event_body(raw: bytes, content_type: str) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    if any(content_type.lower().startswith(kind) or kind in content_type.lower() for kind in _TEXT_TYPES):
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode("ascii"), True


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_response_from_result(result: Any) -> HttpResponse:
    """API Gateway's payload-2.0 response mapping: a dict with ``statusCode`` is used as given;
    anything else is a 200 whose body is the JSON of the result."""
    if isinstance(result, Mapping) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(value)) for value in values)
        headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
        raw_body = result.get("body")
        if raw_body is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(raw_body)
        else:
            body = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode("utf-8")
        return HttpResponse(status, headers, body)
    if isinstance(result, str):
        # A bare string is sent as the body with a JSON content type, like API Gateway does.
        return HttpResponse(200, [("Content-Type", "application/json")], result.encode("utf-8"))
    return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode("utf-8"))


def error_response(status: int, message: str) -> HttpResponse:
    """API Gateway's own error answers (``{"message": ...}``)."""
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


def scheduled_event(rule_arn: str, region: str, account_id: str, now: datetime | None = None) -> dict[str, Any]:
    """An EventBridge ``Scheduled Event``, as a ``Schedule`` event source delivers it."""
    now = now or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def match_route(routes: Iterable[tuple[str, str]], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The route key matching ``method path`` (HTTP API rules: exact paths, ``{param}`` segments,
    a trailing ``{proxy+}``, method ``ANY``); ``None`` when nothing matches."""
    request_parts = [part for part in path.split("/") if part]
    for route_method, route_path in routes:
        if route_method not in ("ANY", method.upper()):
            continue
        parameters: dict[str, str] = {}
        route_parts = [part for part in route_path.split("/") if part]
        matched = True
        for index, part in enumerate(route_parts):
            if part.startswith("{") and part.endswith("+}"):
                parameters[part[1:-2]] = "/".join(request_parts[index:])
                break
            if index >= len(request_parts):
                matched = False
                break
            if part.startswith("{") and part.endswith("}"):
                parameters[part[1:-1]] = request_parts[index]
            elif part != request_parts[index]:
                matched = False
                break
        else:
            matched = matched and len(route_parts) == len(request_parts)
        if matched:
            return f"{route_method} {route_path}", parameters
    return None
