"""Powertools Logger (JSON, `reference_id` as correlation id), Metrics (EMF) and Tracer, one of each.

The Tracer is built on first use, and only when tracing is on: creating a Powertools Tracer imports
the X-Ray SDK (about 275 ms of every cold start) even when tracing is disabled. With tracing off
(POWERTOOLS_TRACE_DISABLED, or outside Lambda, or under `sam local`: Powertools' own rule) the SDK
is never imported and the decorators below call the function directly. Lambda's active tracing
(template.yaml `Tracing: Active`) records each invocation's segment either way.
"""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "ktp-pipeline")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "KtpPipeline")

F = TypeVar("F", bound=Callable[..., Any])

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def tracing_enabled() -> bool:
    """Powertools' rule for an enabled Tracer, read without building one (the rule is a static method)."""
    from aws_lambda_powertools.tracing.tracer import Tracer

    return not Tracer._is_tracer_disabled()


class LazyTracer:
    """The parts of the Powertools Tracer the pipeline uses, with the Tracer created on first use."""

    def __init__(self, service: str) -> None:
        self._service = service
        self.reset()

    def reset(self) -> None:
        """Decide again on next use (tests switch tracing on and off)."""
        self._tracer: Tracer | None = None
        self._decided = False

    @property
    def tracer(self) -> Tracer | None:
        """The Powertools Tracer, or None while tracing is off. Two threads racing here would build
        two Tracers, which share Powertools' class-level configuration: harmless."""
        if not self._decided:
            if tracing_enabled():
                from aws_lambda_powertools import Tracer

                self._tracer = Tracer(service=self._service)
            self._decided = True
        return self._tracer

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer.put_annotation(key=key, value=value)

    def capture_lambda_handler(self, handler: F) -> F:
        return self._capture(handler, lambda tracer, fn: tracer.capture_lambda_handler(fn))

    def capture_method(self, method: F) -> F:
        return self._capture(method, lambda tracer, fn: tracer.capture_method(fn))

    def _capture(self, fn: F, decorate: Callable[[Tracer, F], F]) -> F:
        traced: list[F] = []  # the Powertools-decorated function, built on the first traced call

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = self.tracer
            if tracer is None:
                return fn(*args, **kwargs)
            if not traced:
                traced.append(decorate(tracer, fn))
            return traced[0](*args, **kwargs)

        return wrapper  # type: ignore[return-value]


tracer = LazyTracer(SERVICE)


def error_fields(exc: BaseException) -> dict[str, str]:
    """What to log about an exception: its type and where it was raised, never its message
    (pydantic and some SDK messages echo input values, which may be personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return {"error": type(exc).__name__, "raised_at": where}
