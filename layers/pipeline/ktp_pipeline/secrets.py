"""Credentials from Secrets Manager through Powertools Parameters (cached per container)."""

from __future__ import annotations

import threading
import time
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, Field, SecretStr

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

# Long enough to spare Secrets Manager, short enough that a rotation is picked up within minutes.
SECRET_CACHE_SECONDS = 300
# After a failed callback auth check the secret is re-read at most this often (rotation, not attack).
FORCED_REFRESH_MIN_INTERVAL = 60.0


class SecretUnavailable(Exception):
    """The secret could not be read or does not have the expected shape (message has no secret value)."""


class ProviderCredentials(BaseModel):
    app_id: str = Field(min_length=1)
    api_key: SecretStr = Field(min_length=1)


class CallbackCredentials(BaseModel):
    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=1)


Credentials = TypeVar("Credentials", ProviderCredentials, CallbackCredentials)


@cache
def secrets_provider() -> SecretsProvider:
    """One Powertools SecretsProvider per process, with its client from boto3's default session (the
    table's and the bucket's). Left to make its own client, the provider opens a new Session, which
    reads again every model botocore has loaded: 41.9 ms of CPU against 4.2 ms, once per cold start.
    `cache_clear()` forgets it and its cached values (tests)."""
    import boto3  # imports the SDK: keep it off the cold path
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=boto3.client("secretsmanager"))


def read_secret(secret_id: str, *, force_fetch: bool = False) -> str | bytes:
    """The secret's value (bytes for a SecretBinary), cached for SECRET_CACHE_SECONDS unless ``force_fetch``."""
    return secrets_provider().get(secret_id, max_age=SECRET_CACHE_SECONDS, force_fetch=force_fetch)


def _load(model: type[Credentials], secret_id: str, force_fetch: bool = False) -> Credentials:
    if not secret_id:
        raise SecretUnavailable("no secret id configured")
    try:
        return model.model_validate_json(read_secret(secret_id, force_fetch=force_fetch))
    except Exception as exc:  # GetParameterError, botocore errors, ValidationError (not JSON, fields missing)
        raise SecretUnavailable(f"secret {secret_id!r} unreadable: {type(exc).__name__}") from None


def provider_credentials(secret_id: str) -> ProviderCredentials:
    return _load(ProviderCredentials, secret_id)


_refresh_lock = threading.Lock()
_last_forced_refresh = 0.0


def callback_credentials(secret_id: str, *, refresh: bool = False) -> CallbackCredentials:
    """The Basic-auth pair; `refresh=True` bypasses the cache, rate-limited so bad requests cannot
    turn into a flood of Secrets Manager calls."""
    global _last_forced_refresh
    if refresh:
        with _refresh_lock:
            now = time.monotonic()
            if now - _last_forced_refresh < FORCED_REFRESH_MIN_INTERVAL:
                raise SecretUnavailable("forced refresh rate-limited")
            _last_forced_refresh = now
    return _load(CallbackCredentials, secret_id, force_fetch=refresh)


def reset_refresh_limiter() -> None:
    global _last_forced_refresh
    _last_forced_refresh = 0.0
