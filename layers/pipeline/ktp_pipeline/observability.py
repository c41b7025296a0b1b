"""Powertools Logger (JSON, `reference_id` as correlation id), Metrics (EMF) and Tracer, one of each."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "ktp-pipeline")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "KtpPipeline")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
