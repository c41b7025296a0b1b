"""Settings of the serverless functions: the template's environment plus the applications from
Secrets Manager, as the same ServiceSettings object `ktp serve` builds from its command line."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3

from extractor.service.aws_storage import DynamoJobStore, S3ImageStore, SqsQueue
from extractor.service.logs import LOGGER_NAME, JsonFormatter
from extractor.service.settings import AppCredentials, ServiceSettings

# A rotated API key takes effect within this long, without a redeploy.
SECRET_REFRESH_SECONDS = 300.0


def parse_applications(secret_string: str) -> tuple[AppCredentials, ...]:
    """The secret is one application ``{"app_id", "api_key"[, "callback_user", "callback_password"]}``
    or several: ``{"applications": [...]}``."""
    value = json.loads(secret_string)
    entries = value["applications"] if isinstance(value, dict) and "applications" in value else [value]
    return tuple(
        AppCredentials(
            app_id=entry["app_id"], api_key=entry["api_key"],
            callback_user=entry.get("callback_user") or None, callback_password=entry.get("callback_password"),
        )
        for entry in entries
    )


def _optional_quota(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "" or int(raw) < 0:
        return None
    return int(raw)


@dataclass
class Runtime:
    settings: ServiceSettings
    store: DynamoJobStore
    images: S3ImageStore
    work: SqsQueue
    callbacks: SqsQueue
    sqs: Any
    loaded_at: float


_cached: Runtime | None = None


def runtime() -> Runtime:
    """Clients and settings, built once per execution environment (secret re-read every 5 min)."""
    global _cached
    if _cached is not None and time.monotonic() - _cached.loaded_at < SECRET_REFRESH_SECONDS:
        return _cached
    env = os.environ
    session = boto3.session.Session()
    secrets = session.client("secretsmanager")
    apps = parse_applications(secrets.get_secret_value(SecretId=env["KTP_APPLICATIONS_SECRET_ID"])["SecretString"])
    settings = ServiceSettings(
        apps=apps,
        # Local runs only (moto stack, tests): callbacks and image URLs on loopback are allowed.
        local=env.get("KTP_LOCAL") == "1",
        quota=_optional_quota(env.get("KTP_QUOTA")),
        retention_hours=float(env.get("KTP_RETENTION_HOURS", "72")),
        max_processing_attempts=int(env.get("KTP_MAX_PROCESSING_ATTEMPTS", "3")),
        callback_max_attempts=int(env.get("KTP_CALLBACK_MAX_ATTEMPTS", "8")),
        callback_backoff_seconds=float(env.get("KTP_CALLBACK_BACKOFF_SECONDS", "2")),
        # SQS visibility can delay a retry by at most 12 h; 15 minutes keeps retries useful.
        callback_max_backoff_seconds=float(env.get("KTP_CALLBACK_MAX_BACKOFF_SECONDS", "900")),
        engine_module=env.get("KTP_ENGINE_MODULE", "extractor.engine"),
    )
    sqs = session.client("sqs")
    _cached = Runtime(
        settings=settings,
        store=DynamoJobStore(session.client("dynamodb"), env["KTP_JOBS_TABLE"], settings.retention_hours),
        images=S3ImageStore(session.client("s3"), env["KTP_IMAGE_BUCKET"]),
        work=SqsQueue(sqs, env["KTP_WORK_QUEUE_URL"]),
        callbacks=SqsQueue(sqs, env["KTP_CALLBACK_QUEUE_URL"]),
        sqs=sqs,
        loaded_at=time.monotonic(),
    )
    return _cached


def configure_logging() -> None:
    """The service's JSON log lines (identifiers and measurements only) on stderr, which Lambda
    sends to the function's log group."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    level = os.environ.get("LOG_LEVEL", "INFO")
    logger.setLevel("WARNING" if level == "WARN" else level)
    logger.propagate = False
