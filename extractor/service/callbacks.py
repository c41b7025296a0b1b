"""Callback delivery: POST each finished result to its callback URL, with retries.

Runs as one asyncio task in the server process with an httpx.AsyncClient, independent of the
OCR workers. Deliveries and every attempt live in the store, so a restart resumes pending
deliveries where they stood. A non-2xx answer or a network error is retried with exponential
backoff until ``callback_max_attempts``; then the delivery is abandoned (the client can still
GET the result until retention expires).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time

import httpx

from extractor.service.logs import get_logger
from extractor.service.settings import AppCredentials, ServiceSettings
from extractor.service.store import Delivery, Store

log = get_logger()

MAX_CONCURRENT_DELIVERIES = 8
LOOP_ERROR_BACKOFF_SECONDS = 1.0


def basic_auth_header(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def backoff_delay(settings: ServiceSettings, attempts_made: int) -> float:
    """Delay before the next attempt after ``attempts_made`` failed ones."""
    return min(settings.callback_max_backoff_seconds, settings.callback_backoff_seconds * 2 ** (attempts_made - 1))


def callback_headers(app: AppCredentials | None) -> dict[str, str]:
    """The headers of every callback POST: JSON, and Basic auth when the application has a pair."""
    headers = {"Content-Type": "application/json", "User-Agent": "ktp-extractor"}
    if app is not None and app.callback_user is not None:
        headers["Authorization"] = basic_auth_header(app.callback_user, app.callback_password or "")
    return headers


async def post_callback(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str | None]:
    """One delivery attempt: (HTTP status or None, error or None); only 2xx counts as delivered."""
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    if not response.is_success:
        return response.status_code, f"HTTP {response.status_code}"
    return response.status_code, None


class CallbackSender:
    def __init__(self, settings: ServiceSettings, store: Store, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._wake = asyncio.Event()
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)

    def notify(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    free = MAX_CONCURRENT_DELIVERIES - len(self._inflight)
                    if free > 0:
                        for delivery in await self._store.due_deliveries(free, exclude=set(self._inflight)):
                            self._start(delivery)
                    await self._sleep_until_due()
                except Exception:
                    # A store failure must not end deliveries for good; pending ones stay pending.
                    log.error("callback_loop_error", exc_info=True)
                    await asyncio.sleep(LOOP_ERROR_BACKOFF_SECONDS)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _sleep_until_due(self) -> None:
        next_at = await self._store.next_delivery_at(exclude=set(self._inflight))
        timeout = None if next_at is None else max(0.0, next_at - time.time())
        if len(self._inflight) >= MAX_CONCURRENT_DELIVERIES:
            timeout = None  # no free slot: a finishing send wakes us
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _start(self, delivery: Delivery) -> None:
        self._inflight.add(delivery.id)
        task = asyncio.create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            async with self._slots:
                await self._attempt(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.error("callback_delivery_error", exc_info=True, reference_id=delivery.reference_id)
        finally:
            self._inflight.discard(delivery.id)
            self._wake.set()

    async def _attempt(self, delivery: Delivery) -> None:
        status, error = await post_callback(
            self._client, delivery.url, delivery.body_json.encode(),
            callback_headers(self._settings.app(delivery.app_id)), self._settings.callback_timeout_seconds,
        )
        delivered = error is None
        attempts_made = delivery.attempts + 1
        next_at = None
        if not delivered and attempts_made < self._settings.callback_max_attempts:
            next_at = time.time() + backoff_delay(self._settings, attempts_made)
        await self._store.record_attempt(delivery.id, status, error, delivered, next_at)
        log.info(
            "callback_attempt", reference_id=delivery.reference_id, app_id=delivery.app_id, attempt=attempts_made,
            http_status=status, error=error,
            outcome="delivered" if delivered else ("retry" if next_at else "abandoned"),
        )
