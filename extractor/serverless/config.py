"""Settings of the serverless functions: the template's environment plus the applications from
Secrets Manager, as the same ServiceSettings object `ktp serve` builds from its command line."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from extractor.service.aws_storage import DynamoJobStore, DynamoSubmitWindows, S3ImageStore, SqsQueue
from extractor.service.logs import LOGGER_NAME, JsonFormatter
from extractor.service.settings import AppCredentials, ServiceSettings

# A rotated API key takes effect within this long, without a redeploy.
SECRET_REFRESH_SECONDS = 300.0


def parse_applications(secret_string: str) -> tuple[AppCredentials, ...]:
    """The secret is one application ``{"app_id", "api_key"[, "callback_user", "callback_password"]
    [, "submit_rate", "submit_burst"]}`` or several: ``{"applications": [...]}``. The submit rate
    (per second, 0 = unlimited) and burst default to the template's SubmitRatePerApplication / SubmitBurstPerApplication."""
    value = json.loads(secret_string)
    entries = value["applications"] if isinstance(value, dict) and "applications" in value else [value]
    return tuple(
        AppCredentials(
            app_id=entry["app_id"], api_key=entry["api_key"],
            callback_user=entry.get("callback_user") or None, callback_password=entry.get("callback_password"),
            submit_rate=entry.get("submit_rate"), submit_burst=entry.get("submit_burst"),
        )
        for entry in entries
    )


def pipeline_application(credentials_secret: str, callback_secret: str | None) -> AppCredentials:
    """The pipeline that nests this extractor (Provider=builtin): its ``{"app_id", "api_key"}`` and
    the ``{"username", "password"}`` its POST /callback expects, read from the pipeline's own secrets."""
    credentials = json.loads(credentials_secret)
    callback = json.loads(callback_secret) if callback_secret else {}
    return AppCredentials(
        app_id=credentials["app_id"], api_key=credentials["api_key"],
        callback_user=callback.get("username") or None, callback_password=callback.get("password"),
    )


def load_applications(read_secret: Callable[[str], str], env: Mapping[str, str]) -> tuple[AppCredentials, ...]:
    """Every application the extractor accepts: ApplicationsSecret's, plus the pipeline's when the
    template was given its secrets. The pipeline's entry replaces one of the same App-ID (the
    generated ``ktp-pipeline``), so a nested extractor accepts exactly the pipeline's key.
    A function whose secret ids are empty (the OCR worker) reads no secret and gets no applications."""
    apps: dict[str, AppCredentials] = {}
    if env.get("KTP_APPLICATIONS_SECRET_ID"):
        apps = {app.app_id: app for app in parse_applications(read_secret(env["KTP_APPLICATIONS_SECRET_ID"]))}
    credentials_id = env.get("KTP_PIPELINE_CREDENTIALS_SECRET_ID")
    callback_id = env.get("KTP_PIPELINE_CALLBACK_SECRET_ID")
    callback_secret = read_secret(callback_id) if callback_id else None
    if credentials_id:
        pipeline = pipeline_application(read_secret(credentials_id), callback_secret)
        apps[pipeline.app_id] = pipeline
    elif callback_secret:
        # Standalone with a callback pair only: it signs callbacks of applications without their own.
        pair = json.loads(callback_secret)
        apps = {
            app_id: app if app.callback_user else app.model_copy(
                update={"callback_user": pair.get("username") or None, "callback_password": pair.get("password")})
            for app_id, app in apps.items()
        }
    return tuple(apps.values())


def _optional_quota(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "" or int(raw) < 0:
        return None
    return int(raw)


@dataclass
class Runtime:
    settings: ServiceSettings
    store: DynamoJobStore
    images: S3ImageStore
    throttle: DynamoSubmitWindows
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
    apps = load_applications(lambda secret_id: secrets.get_secret_value(SecretId=secret_id)["SecretString"], env)
    settings = ServiceSettings(
        apps=apps,
        # Local runs only (moto stack, tests): callbacks and image URLs on loopback are allowed.
        local=env.get("KTP_LOCAL") == "1",
        quota=_optional_quota(env.get("KTP_QUOTA")),
        submit_rate=float(env.get("KTP_SUBMIT_RATE", "20")),
        submit_burst=int(env.get("KTP_SUBMIT_BURST", "50")),
        retention_hours=float(env.get("KTP_RETENTION_HOURS", "72")),
        max_processing_attempts=int(env.get("KTP_MAX_PROCESSING_ATTEMPTS", "3")),
        callback_max_attempts=int(env.get("KTP_CALLBACK_MAX_ATTEMPTS", "8")),
        callback_backoff_seconds=float(env.get("KTP_CALLBACK_BACKOFF_SECONDS", "2")),
        # SQS visibility can delay a retry by at most 12 h; 15 minutes keeps retries useful.
        callback_max_backoff_seconds=float(env.get("KTP_CALLBACK_MAX_BACKOFF_SECONDS", "900")),
        engine_module=env.get("KTP_ENGINE_MODULE", "extractor.engine"),
    )
    sqs = session.client("sqs")
    dynamodb = session.client("dynamodb")
    _cached = Runtime(
        settings=settings,
        store=DynamoJobStore(dynamodb, env["KTP_JOBS_TABLE"], settings.retention_hours),
        throttle=DynamoSubmitWindows(dynamodb, env["KTP_JOBS_TABLE"]),
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
