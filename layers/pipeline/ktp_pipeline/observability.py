"""Powertools Logger (JSON, `reference_id` as correlation id), Metrics (EMF) and Tracer, one of each.

Creating a Powertools Tracer imports the X-Ray SDK (about 275 ms of every cold start) even when
tracing is disabled, so `tracer` is one only when Powertools' own rule says tracing is on (not
POWERTOOLS_TRACE_DISABLED, inside Lambda, not `sam local`), decided at import; otherwise a stand-in
whose decorators return the function. Lambda's active tracing records each segment either way.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "ktp-pipeline")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "KtpPipeline")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def tracing_enabled() -> bool:
    """Powertools' rule for an enabled Tracer, read without building one (the rule is a static method)."""
    return not Tracer._is_tracer_disabled()


class NoTracer:
    """The parts of the Powertools Tracer the pipeline uses, doing nothing (tracing is off)."""

    def capture_lambda_handler(self, handler: Any) -> Any:
        return handler

    def capture_method(self, method: Any) -> Any:
        return method

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        pass


tracer: Tracer | NoTracer = Tracer(service=SERVICE) if tracing_enabled() else NoTracer()


def error_fields(exc: BaseException) -> dict[str, str]:
    """What to log about an exception: its type and where it was raised, never its message
    (pydantic and some SDK messages echo input values, which may be personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return {"error": type(exc).__name__, "raised_at": where}
