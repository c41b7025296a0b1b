"""The local stand-in for the HTTP API in front of the callback function: a threaded HTTP server
on 127.0.0.1 that turns each request into an API Gateway payload-2.0 event, invokes the real
handler and sends back what it answered."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
from local.template import HttpRoute

log = logging.getLogger("ktp.local.callback")


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
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                endpoint._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return  # request lines go nowhere: query strings may carry ids we keep out of logs

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="callback-endpoint", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        length = int(request.headers.get("Content-Length") or 0)
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
