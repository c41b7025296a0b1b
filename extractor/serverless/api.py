"""The HTTP API function: the contract's two routes, plus the erasure extension (DELETE on the
result path), from API Gateway (HTTP API, payload 2.0) events, answered with the same bodies,
status codes and JSON bytes as `ktp serve`.

Order of checks as in `ktp serve`: route and method, then App-ID / API-Key, then the body."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import parse_qsl

from extractor.serverless.config import Runtime
from extractor.service.credentials import match_application
from extractor.service.errors import ContractError, ErrorCode
from extractor.service.intake import accept_job, erase_job, read_result
from extractor.service.logs import get_logger
from extractor.service.net_guard import NetPolicy, guarded_client, verify_guard
from extractor.service.settings import AppCredentials
from extractor.service.submission import MAX_BODY_BYTES, parse_submission

log = get_logger()

SUBMIT_PATH = "/ktp/id/extract-async"
RESULT_PATH = "/ktp/id/extract-async/result"
# Liveness for monitors and the local stack's start-up wait, as `ktp serve` has: no authentication,
# no personal data, no AWS call (the queue's depth is in CloudWatch).
HEALTH_PATH = "/health"
# Allowed methods per path (the first is what a 405's Allow header names first, as Starlette does).
ROUTES = {SUBMIT_PATH: ("POST",), RESULT_PATH: ("GET", "DELETE"), HEALTH_PATH: ("GET",)}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    # Starlette's JSONResponse rendering, so both homes answer the same bytes.
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": text,
        "isBase64Encoded": False,
    }


def _request_parts(event: dict[str, Any]) -> tuple[str, str, dict[str, str], dict[str, str], bytes]:
    http = event.get("requestContext", {}).get("http", {})
    method = str(http.get("method") or event.get("httpMethod") or "GET").upper()
    path = str(event.get("rawPath") or http.get("path") or "/")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = dict(parse_qsl(event.get("rawQueryString") or "", keep_blank_values=True))  # last value wins, as in Starlette
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    return method, path, headers, query, body


async def _submit(runtime: Runtime, app: AppCredentials, body: bytes) -> dict[str, Any]:
    settings = runtime.settings
    if len(body) > MAX_BODY_BYTES:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
    policy = NetPolicy(allow_loopback=settings.local)
    submission = parse_submission(body, policy, sandbox=False)
    fetch_client = guarded_client(policy, timeout=settings.fetch_timeout_seconds)
    try:
        await verify_guard(fetch_client)  # fail closed, as `ktp serve` does at start-up
        reference_id = await accept_job(
            settings=settings, store=runtime.store, images=runtime.images, queue=runtime.work, policy=policy,
            fetch_client=fetch_client, app=app, submission=submission, throttle=runtime.throttle,
        )
    finally:
        await fetch_client.aclose()
    return json_response({"message": "accepted", "data": {"reference_id": reference_id}})


async def _handle(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    method, path, headers, query, body = _request_parts(event)
    expected = ROUTES.get(path)
    if expected is None:
        return json_response({"message": "Not Found", "error_code": ErrorCode.NOT_FOUND.value}, 404)
    if method not in expected:
        return json_response(
            {"message": "Method Not Allowed", "error_code": ErrorCode.METHOD_NOT_ALLOWED.value}, 405,
            {"allow": ", ".join(expected)},
        )
    if path == HEALTH_PATH:
        return json_response({"status": "ok"})
    app = match_application(runtime.settings.apps, headers.get("app-id"), headers.get("api-key"))
    if app is None:
        return json_response({"message": "Authorization failed"}, 401)
    try:
        if path == SUBMIT_PATH:
            return await _submit(runtime, app, body)
        if method == "DELETE":
            return json_response(await erase_job(runtime.store, runtime.images, app.app_id, query.get("reference_id")))
        return json_response(await read_result(runtime.store, runtime.settings, app.app_id, query.get("reference_id")))
    except ContractError as error:
        return json_response(error.body(), error.status, error.headers)


def handle(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    try:
        response = asyncio.run(_handle(runtime, event))
    except Exception:
        # Type only (logs.py): a message could quote the request.
        log.error("unhandled_error", exc_info=True)
        response = json_response({"message": "Internal server error", "error_code": "INTERNAL_SERVER_ERROR"}, 500)
    method, path, *_ = _request_parts(event)
    log.info("request", method=method, path=path, status=response["statusCode"])
    return response
