"""App-ID / API-Key authentication (constant-time)."""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from extractor.service.credentials import match_application
from extractor.service.errors import AuthorizationFailed
from extractor.service.settings import AppCredentials, ServiceSettings

# auto_error=False: a missing header must be our 401 body, not FastAPI's 403.
app_id_header = APIKeyHeader(name="App-ID", auto_error=False, scheme_name="AppId")
api_key_header = APIKeyHeader(name="API-Key", auto_error=False, scheme_name="ApiKey")


def verify_credentials(settings: ServiceSettings, app_id: str | None, api_key: str | None) -> AppCredentials | None:
    return match_application(settings.apps, app_id, api_key)


async def authenticate(
    request: Request,
    app_id: str | None = Security(app_id_header),
    api_key: str | None = Security(api_key_header),
) -> AppCredentials:
    app = verify_credentials(request.app.state.service.settings, app_id, api_key)
    if app is None:
        raise AuthorizationFailed()
    return app
