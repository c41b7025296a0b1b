"""Powertools Logger (JSON, `reference_id` as correlation id), Metrics (EMF) and Tracer, one of each."""

from __future__ import annotations

import os
import traceback

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "ktp-pipeline")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "KtpPipeline")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


def error_fields(exc: BaseException) -> dict[str, str]:
    """What to log about an exception: its type and where it was raised, never its message
    (pydantic and some SDK messages echo input values, which may be personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return {"error": type(exc).__name__, "raised_at": where}
