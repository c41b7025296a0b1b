"""Per-application submit throttling: one decision, two state adapters.

The decision (which rate applies to an application, and that a refused submit is a 429
TOO_MANY_REQUESTS) is shared; only where the state lives differs:

- ``ktp serve`` is one process: an in-memory token bucket per application (``TokenBuckets``);
- the serverless extractor runs in many Lambda environments at once: a counter per
  (application, time window) item in the jobs table, incremented by one conditional UpdateItem
  (``aws_storage.DynamoSubmitWindows``), so concurrent submits cannot both take the last slot.

A window of ``burst / rate`` seconds admitting ``burst`` submits keeps the same average rate as the
bucket; at a window edge it may admit up to two bursts back to back (the usual fixed-window cost,
paid for not reading before writing). Both take a clock so tests need no wall-clock time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from extractor.service.errors import ContractError, ErrorCode
from extractor.service.settings import AppCredentials, ServiceSettings


@dataclass(frozen=True)
class SubmitRate:
    per_second: float
    burst: int

    @property
    def window_seconds(self) -> float:
        return self.burst / self.per_second

    def window(self, now: float) -> int:
        """The fixed window ``now`` falls in (a number the whole fleet agrees on)."""
        return math.floor(now / self.window_seconds)

    def window_end(self, window: int) -> float:
        return (window + 1) * self.window_seconds


def submit_rate(settings: ServiceSettings, app: AppCredentials) -> SubmitRate | None:
    """The application's own rate, else the service default; None when unlimited (rate 0)."""
    per_second = app.submit_rate if app.submit_rate is not None else settings.submit_rate
    burst = app.submit_burst if app.submit_burst is not None else settings.submit_burst
    if per_second <= 0:
        return None
    return SubmitRate(per_second, max(1, burst))


class SubmitThrottle(Protocol):
    async def admit(self, app_id: str, rate: SubmitRate) -> float:
        """Take one submit from the application's allowance and return 0.0; when none is left,
        take nothing and return the seconds until one is."""
        ...


def retry_after_header(wait_seconds: float) -> dict[str, str]:
    """RFC 9110 Retry-After in whole seconds, never 0 (a client told 0 would retry at once)."""
    return {"Retry-After": str(max(1, math.ceil(wait_seconds)))}


async def check_submit_rate(throttle: SubmitThrottle | None, settings: ServiceSettings, app: AppCredentials) -> None:
    rate = submit_rate(settings, app)
    if throttle is None or rate is None:
        return
    wait = await throttle.admit(app.app_id, rate)
    if wait > 0:
        raise ContractError(ErrorCode.TOO_MANY_REQUESTS, headers=retry_after_header(wait))


class TokenBuckets:
    """One token bucket per application, in this process: ``burst`` tokens, refilled at ``rate``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # app_id -> (tokens, at)

    async def admit(self, app_id: str, rate: SubmitRate) -> bool:
        # No await between the read and the write: on one event loop this is atomic.
        now = self._clock()
        tokens, at = self._buckets.get(app_id, (float(rate.burst), now))
        tokens = min(float(rate.burst), tokens + max(0.0, now - at) * rate.per_second)
        if tokens < 1.0:
            self._buckets[app_id] = (tokens, now)
            return (1.0 - tokens) / rate.per_second
        self._buckets[app_id] = (tokens - 1.0, now)
        return 0.0
