"""boto3 clients for the local stack (moto) or a deployed one. Kept apart from `local.aws` so the
read commands (`ktp status`, `results`, `watch`) do not import the template translation.

One boto3 Session per region and process: a new Session re-reads every service's model from disk
(about 0.1 s a client); creating clients from a shared Session is serialised because a Session is
not thread-safe (the clients it makes are)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# moto accepts any credentials; these are what `aws --endpoint-url` users should export.
LOCAL_ACCESS_KEY_ID = "testing"
LOCAL_SECRET_ACCESS_KEY = "testing"
# The local stack's queue of S3 events (moto's notifications), `<stack name>-local-s3-events`.
EVENTS_QUEUE_SUFFIX = "local-s3-events"

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
_SESSION_LOCK = threading.Lock()


@cache
def _local_session(region: str) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY, region_name=region
    )


def client(service: str, endpoint_url: str | None, region: str) -> Any:
    with _SESSION_LOCK:
        if endpoint_url is None:  # a deployed stack: the caller's own credentials (boto3's default session)
            return boto3.client(service, region_name=region, config=_CONFIG)
        return _local_session(region).client(service, endpoint_url=endpoint_url, config=_CONFIG)
