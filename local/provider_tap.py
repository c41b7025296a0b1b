"""An optional recording reverse proxy between the pipeline and the extractor. Tests and the
benchmark use it to count what reached the provider (e.g. exactly one submit per object).

It records method, path, ``reference_id`` and status — never the image or the result body. When
the extractor is down it answers 502, as a load balancer in front of a provider would.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import httpx

from local.loopback_http import LoopbackHttpServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


@dataclass(frozen=True)
class ProviderCall:
    method: str
    path: str
    reference_id: str | None
    status: int  # 502 when the extractor could not be reached


class ProviderTap:
    def __init__(self, upstream_url: str, *, port: int = 0) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.calls: list[ProviderCall] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=httpx.Timeout(60.0, connect=2.0))
        self._server = LoopbackHttpServer(self._forward, port=port, name="provider-tap")
        self.url = self._server.url()

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        self._http.close()

    def submits(self) -> Counter[str]:
        """How many submit requests the provider received per reference_id (any answer)."""
        with self._lock:
            return Counter(
                call.reference_id or "" for call in self.calls
                if call.method == "POST" and call.path.endswith("/extract-async") and call.status != 502
            )

    def _forward(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path, _, query = request.path.partition("?")
        reference_id = _reference_id(request.command, body, query)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        try:
            answer = self._http.request(request.command, self.upstream_url + request.path, headers=headers, content=body)
            status, answer_headers, answer_body = answer.status_code, answer.headers, answer.content
        except httpx.TransportError:
            status, answer_headers, answer_body = 502, httpx.Headers({"content-type": "application/json"}), b'{"message": "Bad Gateway"}'
        with self._lock:
            self.calls.append(ProviderCall(request.command, path, reference_id, status))
        request.send_response(status)
        for name, value in answer_headers.items():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-encoding":
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer_body)))
        request.end_headers()
        request.wfile.write(answer_body)


def _reference_id(method: str, body: bytes, query: str) -> str | None:
    if method == "GET":
        values = parse_qs(query).get("reference_id")
        return values[0] if values else None
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return None
    value = document.get("reference_id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None
