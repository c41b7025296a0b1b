"""Builds the clients and services once per Lambda container, lazily (cold starts pay only for use).

Tests set `http_transport` (an `httpx.MockTransport`) and call `reset()`; AWS clients follow the
standard `AWS_ENDPOINT_URL` variable, which is how the local stack points them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: httpx (the callback function never needs it), pydantic
    import httpx

    from .settings import Settings

# Injected by tests / the local stack; None means a real network transport.
http_transport: httpx.BaseTransport | None = None


def get_settings() -> Settings:
    from .settings import get_settings as cached

    return cached()


@cache
def dynamodb_client() -> Any:
    import boto3

    return boto3.client("dynamodb")


@cache
def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # SigV4 presigned URLs work in every region (ap-southeast-3 accepts nothing else).
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@cache
def http_client() -> httpx.Client:
    import httpx

    from .provider_client import DEFAULT_TIMEOUT

    return httpx.Client(timeout=DEFAULT_TIMEOUT, transport=http_transport, follow_redirects=False)


@cache
def job_store():  # -> JobStore
    from .job_store import JobStore

    settings = get_settings()
    return JobStore(
        dynamodb_client(), settings.jobs_table_name, settings.jobs_pending_index,
        shards=settings.pending_shards, retention_days=settings.retention_days,
    )


@cache
def provider_client():  # -> ProviderClient
    from .provider_client import ProviderClient
    from .secrets import provider_credentials

    settings = get_settings()
    return ProviderClient(
        settings.provider_base_url, lambda: provider_credentials(settings.provider_secret_id), http_client()
    )


@cache
def submitter():  # -> Submitter
    from .submitter import Submitter

    return Submitter(job_store(), s3_client(), provider_client(), get_settings())


@cache
def callback_receiver():  # -> CallbackReceiver
    from .callback_receiver import CallbackReceiver
    from .secrets import callback_credentials

    secret_id = get_settings().callback_secret_id
    return CallbackReceiver(job_store(), lambda refresh=False: callback_credentials(secret_id, refresh=refresh))


@cache
def poller():  # -> Poller
    from .poller import Poller

    return Poller(job_store(), provider_client(), submitter(), get_settings())


def reset() -> None:
    """Forget every built object (after tests change the environment or the transport)."""
    for builder in (dynamodb_client, s3_client, http_client, job_store, provider_client, submitter,
                    callback_receiver, poller):
        builder.cache_clear()
    from .settings import get_settings as cached

    cached.cache_clear()
