"""POST /callback: authenticate, parse tolerantly, write the result once. HTTP-agnostic, so testable alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .auth import WWW_AUTHENTICATE, basic_auth_matches
from .job_store import JobStore
from .models import ExtractionResult
from .observability import logger, tracer
from .outcomes import Outcome
from .reference_ids import is_valid_reference_id
from .secrets import CallbackCredentials, SecretUnavailable


@dataclass(frozen=True)
class CallbackResponse:
    status_code: int
    body: dict[str, Any]
    # What happened, for metrics (never sent to the caller beyond `body`).
    outcome: Outcome
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, outcome: Outcome, headers: dict[str, str] | None = None) -> CallbackResponse:
    return CallbackResponse(status, {"message": message}, outcome, headers or {})


class CallbackReceiver:
    def __init__(self, store: JobStore, credentials: Callable[..., CallbackCredentials]) -> None:
        """`credentials(refresh=False)` returns the Basic-auth pair; `refresh=True` bypasses its cache."""
        self._store = store
        self._credentials = credentials

    def _authorized(self, authorization: str | None) -> bool:
        expected = self._credentials(refresh=False)
        if basic_auth_matches(authorization, expected.username, expected.password.get_secret_value()):
            return True
        if not authorization:
            return False
        # The secret may just have been rotated: re-read it (rate-limited) before saying no.
        try:
            fresh = self._credentials(refresh=True)
        except SecretUnavailable:
            return False
        return basic_auth_matches(authorization, fresh.username, fresh.password.get_secret_value())

    def receive(self, authorization: str | None, raw_body: str | bytes | None) -> CallbackResponse:
        try:
            authorized = self._authorized(authorization)
        except SecretUnavailable as exc:
            # Fail closed: without the secret nobody is authenticated and nothing is written.
            logger.error("callback secret unavailable", extra={"error": str(exc)})
            return _error(500, "Callback receiver is not available", Outcome.SECRET_UNAVAILABLE)
        if not authorized:
            return _error(401, "Authorization failed", Outcome.UNAUTHORIZED, {"WWW-Authenticate": WWW_AUTHENTICATE})

        try:
            payload = json.loads(raw_body or b"")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "Body is not valid JSON", Outcome.MALFORMED)
        if not isinstance(payload, dict):
            return _error(400, "Body must be a JSON object", Outcome.MALFORMED)
        result = ExtractionResult.parse(payload)
        if not is_valid_reference_id(result.reference_id):
            return _error(400, "Body lacks a valid reference_id", Outcome.MALFORMED)
        assert result.reference_id is not None
        logger.set_correlation_id(result.reference_id)
        tracer.put_annotation(key="reference_id", value=result.reference_id)
        if result.state == "pending":
            return _error(400, "Body has neither extracted fields nor error_code", Outcome.MALFORMED)

        outcome = self._store.record_result(result, "callback", allow_orphan=True)
        assert outcome is not None  # not pending, checked above
        if outcome is Outcome.ORPHAN_STORED:
            logger.warning("callback for an unknown reference_id stored and flagged",
                           extra={"reference_id": result.reference_id})
        logger.info("callback processed", extra={"reference_id": result.reference_id,
                                                  "state": result.state, "outcome": outcome.value})
        return CallbackResponse(200, {"message": "ok", "reference_id": result.reference_id}, outcome)
