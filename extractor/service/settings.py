"""Service configuration: one immutable object built from CLI options / environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AppCredentials(BaseModel):
    """One client application: its API credentials and, optionally, the Basic-auth pair we send
    with its callbacks."""

    model_config = ConfigDict(frozen=True)

    app_id: str = Field(min_length=1)
    api_key: str = Field(min_length=1)
    callback_user: str | None = None
    callback_password: str | None = None
    # Submits per second (0 = unlimited) and burst of this application; None = the service default.
    submit_rate: float | None = Field(None, ge=0)
    submit_burst: int | None = Field(None, ge=1)

    @classmethod
    def parse(cls, spec: str) -> AppCredentials:
        """Parse ``APP_ID:API_KEY[:CALLBACK_USER:CALLBACK_PASSWORD]``.

        The password is the remainder after the third colon, so it may itself contain colons.
        """
        parts = spec.strip().split(":", 3)
        if len(parts) == 2:
            return cls(app_id=parts[0], api_key=parts[1])
        if len(parts) == 4 and parts[2]:
            return cls(app_id=parts[0], api_key=parts[1], callback_user=parts[2], callback_password=parts[3])
        raise ValueError("an application is APP_ID:API_KEY or APP_ID:API_KEY:CALLBACK_USER:CALLBACK_PASSWORD")

    def __repr__(self) -> str:  # never print secrets, even in a traceback
        return f"AppCredentials(app_id={self.app_id!r}, callback_auth={self.callback_user is not None})"

    __str__ = __repr__


def parse_app_rate(spec: str) -> tuple[str, float, int | None]:
    """Parse ``APP_ID=RATE[:BURST]`` (``ktp serve --app-rate``): submits per second, 0 = unlimited."""
    app_id, sep, value = spec.strip().rpartition("=")
    rate, _, burst = value.partition(":")
    if not sep or not app_id:
        raise ValueError("an application rate is APP_ID=RATE[:BURST]")
    return app_id, float(rate), int(burst) if burst else None


class ServiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("./ktp-extractor-data")
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    apps: tuple[AppCredentials, ...] = ()
    # --local: http:// callbacks and image URLs on loopback are allowed (local runs and tests).
    local: bool = False
    sandbox: bool = False
    # Testing-mode quota: accepted submissions per application; None = unlimited.
    quota: int | None = Field(None, ge=0)
    # Per-application submit throttling (throttle.py): the default rate per second (0 = unlimited)
    # and burst of an application that sets none of its own.
    submit_rate: float = Field(20.0, ge=0)
    submit_burst: int = Field(50, ge=1)
    retention_hours: float = Field(72.0, gt=0)
    purge_interval_seconds: float = Field(60.0, gt=0)

    # Which module provides `extract(bytes)` and `warm_up()`; tests point this at a stand-in.
    engine_module: str = "extractor.engine"

    # Callback delivery: attempt n (1-based) waits backoff * 2**(n-2) after attempt n-1, capped.
    callback_max_attempts: int = Field(8, ge=1)
    callback_backoff_seconds: float = Field(2.0, ge=0)
    callback_max_backoff_seconds: float = Field(600.0, ge=0)
    callback_timeout_seconds: float = Field(10.0, gt=0)

    # Image URL fetch.
    fetch_timeout_seconds: float = Field(10.0, gt=0)
    fetch_max_redirects: int = Field(3, ge=0)

    # A job whose processing was started this many times without finishing (worker crashes,
    # service restarts) fails with INTERNAL_SERVER_ERROR instead of looping forever.
    max_processing_attempts: int = Field(3, ge=1)

    @field_validator("apps")
    @classmethod
    def _unique_app_ids(cls, apps: tuple[AppCredentials, ...]) -> tuple[AppCredentials, ...]:
        ids = [app.app_id for app in apps]
        if len(ids) != len(set(ids)):
            raise ValueError("each App-ID may be configured only once")
        return apps

    def app(self, app_id: str) -> AppCredentials | None:
        for candidate in self.apps:
            if candidate.app_id == app_id:
                return candidate
        return None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "extractor.sqlite3"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"
