"""Outermost guard: logs every request (method, path, status, duration; never bodies or query
strings) and turns any unhandled exception into the contract's 500 body."""

from __future__ import annotations

import json
import time

from extractor.service.logs import get_logger

log = get_logger()

_INTERNAL_ERROR = json.dumps({"message": "Internal server error", "error_code": "INTERNAL_SERVER_ERROR"}).encode()


class GuardMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response_started = False
        status = 500

        async def send_tracking(message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            log.error("unhandled_error", exc_info=True, method=scope["method"], path=scope["path"])
            status = 500
            if not response_started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_INTERNAL_ERROR)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            log.info(
                "request", method=scope["method"], path=scope["path"], status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
