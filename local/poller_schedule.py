"""Runs the poller function on its schedule (the template's rate, or an override for tests), with
an EventBridge ``Scheduled Event`` and a context whose remaining time is the function's timeout."""

from __future__ import annotations

import logging
import threading

from local.events import scheduled_event
from local.functions import InvocationError, LocalFunction

log = logging.getLogger("ktp.local.poller")


class PollerSchedule:
    def __init__(self, function: LocalFunction, *, interval_seconds: float, rule_arn: str, region: str, account_id: str) -> None:
        self.function = function
        self.interval_seconds = interval_seconds
        self.rule_arn = rule_arn
        self.region = region
        self.account_id = account_id
        self.runs = 0
        self.failures = 0
        self.last_result: object = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._run_lock = threading.Lock()  # EventBridge may overlap runs; locally one at a time is enough
        self._thread = threading.Thread(target=self._loop, name="poller-schedule", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(self.function.config.spec.timeout_seconds + 5)

    def trigger(self) -> None:
        """Run as soon as possible instead of waiting for the next tick."""
        self._wake.set()

    def run_once(self) -> object:
        with self._run_lock:
            try:
                result = self.function.invoke(scheduled_event(self.rule_arn, self.region, self.account_id))
            except InvocationError as error:
                self.failures += 1
                log.warning("poller run failed: %s", error.error_type)
                return None
            self.runs += 1
            self.last_result = result
            return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.run_once()
