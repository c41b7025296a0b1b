"""Secrets are read through one Powertools provider whose client comes from boto3's default session,
so a cold start does not open a second Session (which re-reads every model botocore has loaded)."""

from __future__ import annotations

import boto3
from ktp_pipeline import secrets, wiring

from .conftest import APP_ID, CALLBACK_SECRET, CALLBACK_USER, PROVIDER_SECRET


def test_secrets_are_read_without_a_session_of_their_own(stack, monkeypatch):
    wiring.dynamodb_client()  # a handler's first client: boto3's default session exists from here on
    sessions: list[object] = []
    real_init = boto3.session.Session.__init__

    def counting_init(self, *args, **kwargs):
        sessions.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "__init__", counting_init)
    assert secrets.provider_credentials(PROVIDER_SECRET).app_id == APP_ID
    assert secrets.callback_credentials(CALLBACK_SECRET).username == CALLBACK_USER
    assert sessions == []


def test_the_provider_caches_until_forced_and_reset_forgets_it(stack):
    first = secrets.provider_credentials(PROVIDER_SECRET)
    stack.secrets.put_secret_value(SecretId=PROVIDER_SECRET, SecretString='{"app_id": "rotated", "api_key": "k"}')
    assert secrets.provider_credentials(PROVIDER_SECRET).app_id == first.app_id  # within the cache's age
    provider = secrets.secrets_provider()
    wiring.reset()
    assert secrets.secrets_provider() is not provider
    assert secrets.provider_credentials(PROVIDER_SECRET).app_id == "rotated"


def test_a_secret_stored_as_binary_is_read_as_before(stack):
    stack.secrets.put_secret_value(SecretId=PROVIDER_SECRET, SecretBinary=b'{"app_id": "binary", "api_key": "k"}')
    assert secrets.provider_credentials(PROVIDER_SECRET).app_id == "binary"
