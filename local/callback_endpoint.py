"""The local stand-in for the HTTP API in front of the callback function: a threaded HTTP server
on 127.0.0.1 that turns each request into an API Gateway payload-2.0 event, invokes the real
handler and sends back what it answered."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler

from local.events import (
    MAX_HTTP_API_BODY_BYTES,
    HttpRequest,
    HttpResponse,
    error_response,
    http_api_event,
    http_response_from_result,
    match_route,
)
from local.functions import InvocationError, LocalFunction
from local.loopback_http import LoopbackHttpServer
from local.template import HttpRoute

log = logging.getLogger("ktp.local.callback")


def _body_length(request: BaseHTTPRequestHandler) -> int | None:
    """The request's Content-Length, 0 without one, None when it is not one plain decimal number
    (``abc``, ``-5``, ``+1`` or two different values), which API Gateway answers with 400."""
    values = {value.strip() for value in request.headers.get_all("Content-Length") or []}
    if not values:
        return 0
    (value,) = values if len(values) == 1 else ("",)
    return int(value) if value.isascii() and value.isdigit() else None


class CallbackEndpoint:
    def __init__(
        self, function: LocalFunction, routes: list[HttpRoute], *, port: int, region: str, account_id: str
    ) -> None:
        self.function = function
        self.routes = [(route.method, route.path) for route in routes]
        self.region = region
        self.account_id = account_id
        self.refusing = threading.Event()  # fault injection: answer 503 without invoking
        self.requests = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._http = LoopbackHttpServer(self._serve, port=port, name="callback-endpoint")
        self.port = self._http.port

    def url(self, path: str) -> str:
        return self._http.url(path)

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        length = _body_length(request)
        if length is None:
            # Without a usable length the body's end is unknown: answer and drop the connection.
            request.close_connection = True
            self._send(request, error_response(400, "Bad Request"))
            return
        if length > MAX_HTTP_API_BODY_BYTES:
            self._send(request, error_response(413, "Request Entity Too Large"))
            return
        body = request.rfile.read(length) if length else b""
        if self.refusing.is_set():
            with self._lock:
                self.refused += 1
            self._send(request, error_response(503, "Service Unavailable"))
            return
        path, _, query = request.path.partition("?")
        matched = match_route(self.routes, request.command, path)
        if matched is None:
            self._send(request, error_response(404, "Not Found"))
            return
        route_key, path_parameters = matched
        event = http_api_event(
            HttpRequest(request.command, path, query, list(request.headers.items()), body, request.client_address[0]),
            route_key=route_key,
            api_id="local",
            region=self.region,
            account_id=self.account_id,
            path_parameters=path_parameters,
        )
        try:
            response = http_response_from_result(self.function.invoke(event))
        except InvocationError as error:
            log.warning("callback function failed: %s", error.error_type)
            response = error_response(500, "Internal Server Error")
        self._send(request, response)

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, response: HttpResponse) -> None:
        request.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            request.send_header(name, value)
        if "content-length" not in names:
            request.send_header("Content-Length", str(len(response.body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(response.body)
