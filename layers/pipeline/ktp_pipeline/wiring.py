"""Builds the settings, clients and services once per Lambda container, lazily: each builder imports
what it needs, so a cold start pays only for what its function uses (the callback never loads httpx).

Tests set `http_transport` (an `httpx.MockTransport`) and call `reset()`; AWS clients follow the
standard `AWS_ENDPOINT_URL` variable, which is how the local stack points them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from .callback_receiver import CallbackReceiver
    from .erasure import Eraser
    from .job_store import JobStore
    from .nik_hash import NikHasher
    from .poller import Poller
    from .provider_client import ProviderClient
    from .settings import Settings
    from .submitter import Submitter

# Injected by tests / the local stack; None means a real network transport.
http_transport: httpx.BaseTransport | None = None


@cache
def get_settings() -> Settings:
    from .settings import Settings

    return Settings.from_env()


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
def nik_hasher(fresh: bool = False) -> NikHasher | None:
    """None when the function has no NIK_HASH_SECRET_ID (the submitter stores no results).

    ``fresh``: the secret is read anew on every use, not through the 5-minute cache (erasure: a
    key rotated a minute ago must already be looked up).
    """
    settings = get_settings()
    if not settings.nik_hash_secret_id:
        return None
    from .nik_hash import NikHasher, load_keys

    return NikHasher(lambda: load_keys(settings.nik_hash_secret_id, fresh=fresh))


@cache
def job_store() -> JobStore:
    from .job_store import JobStore

    settings = get_settings()
    return JobStore(dynamodb_client(), settings.jobs_table_name, settings.jobs_pending_index,
                    shards=settings.pending_shards, retention_days=settings.retention_days,
                    nik_hasher=nik_hasher())


@cache
def eraser() -> Eraser:
    from .erasure import Eraser

    settings = get_settings()
    return Eraser(job_store(), dynamodb_client(), settings.jobs_table_name, s3_client(), provider_client(),
                  nik_hasher(fresh=True))


@cache
def provider_client() -> ProviderClient:
    import httpx

    from .provider_client import DEFAULT_TIMEOUT, ProviderClient
    from .secrets import provider_credentials

    settings = get_settings()
    http = httpx.Client(timeout=DEFAULT_TIMEOUT, transport=http_transport, follow_redirects=False)
    return ProviderClient(settings.provider_base_url, lambda: provider_credentials(settings.provider_secret_id), http)


@cache
def submitter() -> Submitter:
    from .submitter import Submitter

    return Submitter(job_store(), s3_client(), provider_client(), get_settings())


@cache
def callback_receiver() -> CallbackReceiver:
    from .callback_receiver import CallbackReceiver
    from .secrets import callback_credentials

    secret_id = get_settings().callback_secret_id
    return CallbackReceiver(job_store(), lambda refresh=False: callback_credentials(secret_id, refresh=refresh))


@cache
def poller() -> Poller:
    from .poller import Poller

    return Poller(job_store(), provider_client(), submitter(), get_settings())


def reset() -> None:
    """Forget every built object (after tests change the environment or the transport)."""
    for builder in (get_settings, dynamodb_client, s3_client, job_store, provider_client, submitter,
                    callback_receiver, poller, nik_hasher, eraser):
        builder.cache_clear()
    from .secrets import secrets_provider

    secrets_provider.cache_clear()  # its client and the secrets it cached
