"""The local HTTP API in front of the callback function: requests become payload-2.0 events,
answers go back as the handler gave them, API Gateway's own errors where it would answer."""

from __future__ import annotations

import base64
import json
import socket
from types import SimpleNamespace

import httpx
import pytest

from local.callback_endpoint import CallbackEndpoint
from local.functions import InvocationError
from local.template import HttpRoute


class FakeCallbackFunction:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.config = SimpleNamespace(spec=SimpleNamespace(timeout_seconds=5))

    def invoke(self, event: dict) -> dict:
        self.events.append(event)
        if event["headers"].get("x-crash"):
            raise InvocationError("CallbackFunction", "RuntimeError")
        expected = "Basic " + base64.b64encode(b"user:pass").decode()
        if event["headers"].get("authorization") != expected:
            return {"statusCode": 401, "headers": {"WWW-Authenticate": "Basic"}, "body": json.dumps({"message": "Unauthorized"})}
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"ok": True})}


@pytest.fixture
def endpoint():
    function = FakeCallbackFunction()
    server = CallbackEndpoint(function, [HttpRoute("POST", "/callback")], port=0, region="ap-southeast-3", account_id="123456789012")
    server.start()
    yield server, function
    server.stop()


def test_requests_become_events_and_answers_go_back(endpoint) -> None:
    server, function = endpoint
    body = {"reference_id": "ktp-1", "data": {"nik": "3171234567890001"}}
    answer = httpx.post(server.url("/callback"), json=body, auth=("user", "pass"))
    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
    (event,) = function.events
    assert event["routeKey"] == "POST /callback"
    assert event["version"] == "2.0"
    assert json.loads(event["body"]) == body
    assert event["isBase64Encoded"] is False

    denied = httpx.post(server.url("/callback"), json=body, auth=("user", "wrong"))
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == "Basic"


def test_gateway_errors(endpoint) -> None:
    server, function = endpoint
    assert httpx.get(server.url("/callback")).status_code == 404  # only POST is routed
    assert httpx.post(server.url("/elsewhere"), json={}).status_code == 404
    crashed = httpx.post(server.url("/callback"), json={}, headers={"X-Crash": "1"})
    assert crashed.status_code == 500
    assert crashed.json() == {"message": "Internal Server Error"}
    assert len(function.events) == 1  # unrouted requests never reach the function


def test_refusing_answers_503_without_invoking(endpoint) -> None:
    server, function = endpoint
    server.refusing.set()
    assert httpx.post(server.url("/callback"), json={}, auth=("user", "pass")).status_code == 503
    assert function.events == []
    assert server.refused == 1
    server.refusing.clear()
    assert httpx.post(server.url("/callback"), json={}, auth=("user", "pass")).status_code == 200


def raw_request(server: CallbackEndpoint, head: bytes) -> bytes:
    """Send bytes as they are (httpx would refuse a malformed header) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(head)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


@pytest.mark.parametrize("length", [b"abc", b"-5", b"+5", b"5, 6", b"\xb2"])
def test_a_malformed_content_length_is_a_400_not_a_dropped_connection(endpoint, length: bytes) -> None:
    server, function = endpoint
    answer = raw_request(
        server, b"POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n{}"
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert function.events == []
    # The server is still there for the next request.
    assert httpx.post(server.url("/callback"), json={}, auth=("user", "pass")).status_code == 200


def test_two_different_content_lengths_are_a_400(endpoint) -> None:
    server, function = endpoint
    answer = raw_request(
        server, b"POST /callback HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert function.events == []


def test_loopback_clients_share_one_tls_context_and_ignore_proxy_settings(endpoint, monkeypatch) -> None:
    from local import loopback_http

    server, _ = endpoint
    built = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda **options: built.append(options) or real(**options))
    # A proxy from the shell would take a loopback request elsewhere; the local stack's clients ignore it.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    loopback_http._tls_context.cache_clear()
    try:
        for _ in range(3):
            with loopback_http.loopback_client(timeout=5) as http:
                assert http.post(server.url("/callback"), json={}, auth=("user", "pass")).status_code == 200
        assert len(built) == 1
    finally:
        loopback_http._tls_context.cache_clear()
