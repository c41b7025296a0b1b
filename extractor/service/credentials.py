"""App-ID / API-Key matching in constant time, shared by `ktp serve` (auth.py) and the serverless
API function (no web framework needed)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from extractor.service.settings import AppCredentials


def match_application(apps: Iterable[AppCredentials], app_id: str | None, api_key: str | None) -> AppCredentials | None:
    """Compare against every configured application without stopping early, so the time taken
    says nothing about which App-ID exists or how much of a key matched."""
    given_id = (app_id or "").encode()
    given_key = (api_key or "").encode()
    match = None
    for app in apps:
        id_ok = hmac.compare_digest(app.app_id.encode(), given_id)
        key_ok = hmac.compare_digest(app.api_key.encode(), given_key)
        if id_ok & key_ok:
            match = app
    return match
