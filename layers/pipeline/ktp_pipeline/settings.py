"""Configuration from the Lambda environment (read once per container by `wiring.get_settings`).

This model is the one list of the pipeline's environment variables: each field is read from the
variable of the same name in upper case (``jobs_table_name`` ← ``JOBS_TABLE_NAME``). template.yaml's
Environment is tested against it (tests/template/test_template_environment.py) and the unit tests'
environment is generated from it (``to_env``). Plain pydantic rather than pydantic-settings: that
package would add its own import (asyncio, python-dotenv) to every cold start for one loop below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from aws_lambda_powertools.shared import constants as powertools
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Powertools' own variables that template.yaml sets (Powertools reads them, under its names).
POWERTOOLS_VARIABLES = frozenset({
    powertools.SERVICE_NAME_ENV, powertools.METRICS_NAMESPACE_ENV, powertools.POWERTOOLS_LOG_LEVEL_ENV,
    powertools.TRACER_DISABLED_ENV,
})


class Settings(BaseModel):
    # extra="forbid": a misspelt field in code or tests fails instead of silently taking a default.
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=str.upper, populate_by_name=True)

    jobs_table_name: str
    jobs_pending_index: str = "pending-by-next-check"
    provider_base_url: str = "https://api.verihubs.com"
    provider_secret_id: str = ""
    callback_secret_id: str = ""
    # The HMAC key of the by-nik-hash index (nik_hash.py): set for the functions that store results or erase.
    nik_hash_secret_id: str = ""
    callback_url: str = ""
    validate_quality: bool = False
    image_transport: Literal["base64", "presigned_url"] = "base64"
    job_deadline_seconds: int = Field(3600, gt=0)
    result_grace_seconds: int = Field(300, ge=0)
    retention_days: int = Field(30, gt=0)
    pending_shards: int = Field(4, ge=1, le=64)
    poller_max_concurrency: int = Field(8, ge=1, le=64)
    # First poll after a successful submit; the callback normally arrives well before. A setting so
    # tests and the local stack need not wait a minute.
    first_check_seconds: int = Field(60, ge=1)
    # First steps of the exponential backoffs (backoff.py): re-polling a result that was not ready,
    # and resubmitting after a transient failure. Settings for the same reason.
    poll_base_seconds: int = Field(30, ge=1)
    retry_base_seconds: int = Field(60, ge=1)

    @field_validator("provider_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name → environment variable name, for every setting."""
        return {name: info.alias or name.upper() for name, info in cls.model_fields.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        # Unset or empty variables fall back to the defaults above; pydantic coerces "true"/"3600".
        values = {name: env[name] for name in cls.env_names().values() if env.get(name, "") != ""}
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables (strings, booleans as "true"/"false")."""
        return {name: str(value).lower() if isinstance(value, bool) else str(value)
                for name, value in self.model_dump(by_alias=True).items()}


# The AWS SDK's own: template.yaml declares it empty so `sam local --env-vars` may set it (boto3
# treats "" as unset).
SDK_VARIABLES = frozenset({"AWS_ENDPOINT_URL"})


def known_variables() -> frozenset[str]:
    """Every variable a function of this stack may be given: the settings, Powertools' and the SDK's own."""
    return frozenset(Settings.env_names().values()) | POWERTOOLS_VARIABLES | SDK_VARIABLES
