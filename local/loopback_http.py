"""Plain HTTP on 127.0.0.1: a threaded server that hands every request to one function (the shared
base of the local callback endpoint and the recording provider proxy), and clients for the local
stack's own endpoints (moto, the extractor)."""

from __future__ import annotations

import functools
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import certifi  # noqa: F401 - see below
import httpcore  # noqa: F401
import httpx

# httpx imports httpcore and certifi lazily, in its first client. A stack starts the extractor
# (whose start-up wait makes a client) in a thread while the main thread makes one for moto: both
# would import them at once, and a Ctrl-C landing in the main thread's import can leave CPython's
# module lock held, so the other thread (and the stack's clean-up, which waits for it) hangs for
# ever (seen once in ~20 interrupted starts on a busy machine). Imported here, before any thread.


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=False)


def loopback_client(**options: Any) -> httpx.Client:
    """An httpx client for http://127.0.0.1 endpoints: no proxy from the environment, and one TLS
    context per process. httpx builds a TLS context for every client even when it only speaks plain
    HTTP, and building one loads the CA bundle (18 ms of CPU, measured); a stack start and the test
    suite make hundreds of short-lived clients."""
    return httpx.Client(verify=_tls_context(), trust_env=False, **options)


class LoopbackHttpServer:
    def __init__(self, serve: Callable[[BaseHTTPRequestHandler], None], *, port: int = 0, name: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return  # request lines go nowhere: query strings may carry ids we keep out of logs

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
