"""Delays between attempts: exponential, capped, with jitter so stragglers do not move in lockstep."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

# The submitter's claim on a RECEIVED job: longer than one provider call with its retries, so the
# poller only takes over a job whose submitter really died.
SUBMIT_CLAIM_SECONDS = 180
# The first steps are settings (poll_base_seconds, retry_base_seconds); the caps stay fixed.
POLL_CAP_SECONDS = 600
RETRY_CAP_SECONDS = 900


def next_delay(attempt: int, base: int, cap: int, rng: Callable[[], float] = random.random) -> int:
    """Half fixed, half random of min(cap, base·2^attempt): never sooner than half the step."""
    step = min(cap, base * (2 ** max(0, min(attempt, 20))))
    return max(1, int(step / 2 + rng() * step / 2))


def poll_delay(poll_count: int, base: int, rng: Callable[[], float] = random.random) -> int:
    return next_delay(poll_count, base, POLL_CAP_SECONDS, rng)


def retry_delay(retry_count: int, base: int, rng: Callable[[], float] = random.random) -> int:
    return next_delay(retry_count, base, RETRY_CAP_SECONDS, rng)


def within_deadline(delay: int, created_epoch: int | None, now: float, deadline_seconds: int) -> int:
    """`delay`, but never past the job's deadline: its next check comes one second after it, so a
    job times out within one poller run of its deadline, not up to a whole backoff step later."""
    if created_epoch is None:
        return delay
    return max(1, min(delay, math.ceil(created_epoch + deadline_seconds + 1 - now)))
