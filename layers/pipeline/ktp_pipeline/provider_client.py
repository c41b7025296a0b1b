"""httpx client of the provider contract: submit and get-result, with typed errors and jittered retries.
It never logs request or response bodies: they carry the image or the card holder's data."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import ValidationError

from .models import ExtractionResult, ProviderErrorBody, SubmitAccepted, SubmitRequest
from .observability import logger
from .secrets import ProviderCredentials, SecretUnavailable

SUBMIT_PATH = "/ktp/id/extract-async"
RESULT_PATH = "/ktp/id/extract-async/result"

# A 5 MB image base64-encoded is ~6.7 MB: allow time to write it; connecting should be quick.
DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=20.0, write=20.0, pool=3.0)
_RETRYABLE_TRANSPORT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ProviderError(Exception):
    """A provider answer (or its absence) we could not use, with the contract's code when there is one."""

    def __init__(self, http_status: int | None, error_code: str | None, message: str) -> None:
        super().__init__(f"provider error http={http_status} code={error_code}: {message}")
        self.http_status = http_status
        self.error_code = error_code


class ProviderRejected(ProviderError):
    """400/422: the request itself is wrong; sending it again will not help."""


class ProviderTransientError(ProviderError):
    """401/403/429/5xx, timeouts, connection failures: try again later (not before ``retry_after``
    seconds when the provider said so)."""

    def __init__(self, http_status: int | None, error_code: str | None, message: str,
                 retry_after: float | None = None) -> None:
        super().__init__(http_status, error_code, message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as delay-seconds (what our extractor sends); an HTTP-date or junk is ignored."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


class ResultNotFound(ProviderError):
    """404 on GET result: unknown reference_id (not ready yet, or the submission was lost)."""


def _error_for(response: httpx.Response) -> ProviderError:
    try:
        body = ProviderErrorBody.model_validate_json(response.content)
    except ValidationError:  # not JSON, not an object, or odd types: the status alone decides
        body = ProviderErrorBody()
    status = response.status_code
    if status in (400, 422):
        default = "BAD_PAYLOAD" if status == 422 else "INVALID_PAYLOAD"
        return ProviderRejected(status, body.error_code or default, body.message)
    if status == 404:
        return ResultNotFound(status, body.error_code or "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND", body.message)
    if status == 401:
        return ProviderTransientError(status, body.error_code or "AUTHORIZATION_FAILED", body.message)
    # 403 INSUFFICIENT_QUOTA, 408, 429, 5xx and anything unexpected: retry later, the deadline bounds it.
    return ProviderTransientError(status, body.error_code or f"HTTP_{status}", body.message, _retry_after(response))


class ProviderClient:
    def __init__(self, base_url: str, credentials: ProviderCredentials | Callable[[], ProviderCredentials],
                 http: httpx.Client, *, max_attempts: int = 3, backoff_base: float = 0.25, backoff_cap: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep, rng: Callable[[], float] = random.random) -> None:
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._http = http
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng

    def worst_case_seconds(self) -> float:
        """The longest one call can take: every attempt hitting every timeout, plus the backoffs."""
        timeout = self._http.timeout
        per_attempt = sum(t or 0.0 for t in (timeout.connect, timeout.write, timeout.read, timeout.pool))
        return self._max_attempts * per_attempt + (self._max_attempts - 1) * self._backoff_cap

    def submit(self, request: SubmitRequest) -> SubmitAccepted:
        response = self._send("POST", SUBMIT_PATH, retry_reads=False, json=request.model_dump(exclude_none=True))
        try:
            return SubmitAccepted.model_validate_json(response.content)
        except ValidationError:
            # Accepted with an unreadable body: the job exists; a later submit says REFERENCE_ID_EXISTS.
            return SubmitAccepted()

    def get_result(self, reference_id: str) -> ExtractionResult:
        response = self._send("GET", RESULT_PATH, retry_reads=True, params={"reference_id": reference_id})
        try:
            payload: Any = response.json()
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            payload = None
        if not isinstance(payload, dict):
            raise ProviderTransientError(response.status_code, "UNREADABLE_RESULT", "result body is not a JSON object")
        return ExtractionResult.parse(payload)

    def delete_result(self, reference_id: str) -> str:
        """Erase the provider's copy of a job (our extractor's DELETE extension of the contract):
        "deleted", "not_found" (404: unknown, or already gone) or "not_supported" (405/501: a provider
        without the extension, such as the commercial API). Other failures raise ProviderError."""
        try:
            self._send("DELETE", RESULT_PATH, retry_reads=True, params={"reference_id": reference_id})
        except ResultNotFound:
            return "not_found"
        except ProviderError as error:
            if error.http_status in (405, 501):
                return "not_supported"
            raise
        return "deleted"

    def _headers(self) -> dict[str, str]:
        try:
            creds = self._credentials() if callable(self._credentials) else self._credentials
        except SecretUnavailable:
            # Our side is misconfigured, not the job: retry later, as for a provider 401.
            raise ProviderTransientError(None, "PROVIDER_CREDENTIALS_UNAVAILABLE", "credentials unreadable") from None
        return {"App-ID": creds.app_id, "API-Key": creds.api_key.get_secret_value(), "Accept": "application/json"}

    def _send(self, method: str, path: str, *, retry_reads: bool, **kwargs: Any) -> httpx.Response:
        url = self._base_url + path
        headers = self._headers()
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                logger.warning("provider transport error",
                               extra={"method": method, "path": path, "attempt": attempt, "error": type(exc).__name__})
                # A read error after the request went out is ambiguous for POST: do not repeat it here;
                # the job goes to RETRY and the deterministic reference_id makes a later resubmit safe.
                if last or not (retry_reads or isinstance(exc, _RETRYABLE_TRANSPORT)):
                    raise ProviderTransientError(None, "PROVIDER_UNREACHABLE", type(exc).__name__) from None
            else:
                if response.is_success:
                    return response
                error = _error_for(response)
                logger.info("provider error response",
                            extra={"method": method, "path": path, "attempt": attempt,
                                   "http_status": response.status_code, "error_code": error.error_code})
                if last or response.status_code < 500:
                    raise error
            # Full jitter: spreads the retries of many concurrent invocations.
            self._sleep(self._rng() * min(self._backoff_cap, self._backoff_base * (2**attempt)))
        raise AssertionError("unreachable")  # the last attempt returns or raises
