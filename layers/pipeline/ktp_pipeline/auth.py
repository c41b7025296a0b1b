"""HTTP Basic auth check for the provider's callback, in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

WWW_AUTHENTICATE = 'Basic realm="ktp-callback", charset="UTF-8"'


def basic_auth_matches(authorization: str | None, username: str, password: str) -> bool:
    """True only for `Basic base64(username:password)` with exactly the expected pair. Both halves are
    always compared (no early exit) so timing does not reveal which one was wrong."""
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_password = decoded.partition(b":")
    if not sep:
        return False
    user_ok = hmac.compare_digest(given_user, username.encode("utf-8"))
    password_ok = hmac.compare_digest(given_password, password.encode("utf-8"))
    return user_ok & password_ok
