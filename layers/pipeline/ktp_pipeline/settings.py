"""Configuration from the Lambda environment (names fixed in template.yaml), read once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    jobs_table_name: str
    jobs_pending_index: str = "pending-by-next-check"
    upload_bucket_name: str = ""
    provider_base_url: str = "https://api.verihubs.com"
    provider_secret_id: str = ""
    callback_secret_id: str = ""
    callback_url: str = ""
    validate_quality: bool = False
    image_transport: Literal["base64", "presigned_url"] = "base64"
    job_deadline_seconds: int = Field(3600, gt=0)
    result_grace_seconds: int = Field(300, ge=0)
    retention_days: int = Field(30, gt=0)
    pending_shards: int = Field(4, ge=1, le=64)
    poller_max_concurrency: int = Field(8, ge=1, le=64)

    @field_validator("provider_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        fields = {
            "jobs_table_name": "JOBS_TABLE_NAME",
            "jobs_pending_index": "JOBS_PENDING_INDEX",
            "upload_bucket_name": "UPLOAD_BUCKET_NAME",
            "provider_base_url": "PROVIDER_BASE_URL",
            "provider_secret_id": "PROVIDER_SECRET_ID",
            "callback_secret_id": "CALLBACK_SECRET_ID",
            "callback_url": "CALLBACK_URL",
            "validate_quality": "VALIDATE_QUALITY",
            "image_transport": "IMAGE_TRANSPORT",
            "job_deadline_seconds": "JOB_DEADLINE_SECONDS",
            "result_grace_seconds": "RESULT_GRACE_SECONDS",
            "retention_days": "RETENTION_DAYS",
            "pending_shards": "PENDING_SHARDS",
            "poller_max_concurrency": "POLLER_MAX_CONCURRENCY",
        }
        # Unset or empty variables fall back to the defaults above; pydantic coerces "true"/"3600".
        values = {field: env[name] for field, name in fields.items() if env.get(name, "") != ""}
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings.from_env()
