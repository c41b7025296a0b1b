"""The contract's error codes and the one exception that carries them to the HTTP layer.

Every error body the service emits has the same shape, ``{"message": ..., "error_code": ...}``,
except the contract's 401, which is ``{"message": "Authorization failed"}``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    MISSING_PAYLOAD_IMAGE = "MISSING_PAYLOAD_IMAGE"
    INVALID_PAYLOAD_IMAGE_MISSING = "INVALID_PAYLOAD_IMAGE_MISSING"
    INVALID_PAYLOAD_IMAGE_SIZE = "INVALID_PAYLOAD_IMAGE_SIZE"
    INVALID_PAYLOAD_IMAGE_FORMAT = "INVALID_PAYLOAD_IMAGE_FORMAT"
    INVALID_PAYLOAD_CALLBACK_URL = "INVALID_PAYLOAD_CALLBACK_URL"
    INVALID_PAYLOAD_REFERENCE_ID = "INVALID_PAYLOAD_REFERENCE_ID"
    INVALID_PAYLOAD_REFERENCE_ID_EXISTS = "INVALID_PAYLOAD_REFERENCE_ID_EXISTS"
    INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND = "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"
    INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY = "INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY"
    INVALID_SANDBOX_CODE = "INVALID_SANDBOX_CODE"
    INSUFFICIENT_QUOTA = "INSUFFICIENT_QUOTA"
    # Extension (docs/provider-contract.md): the per-application submit rate is exceeded.
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    BAD_PAYLOAD = "BAD_PAYLOAD"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class JobErrorCode(StrEnum):
    """``error_code`` of a job that was accepted but failed during processing (HTTP 200 result)."""

    FAIL_ON_1 = "FAIL_ON_1"
    KTP_NOT_DETECTED = "KTP_NOT_DETECTED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# Default HTTP status and message per code; a raise site may override the message.
_DEFAULTS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.INVALID_PAYLOAD: (400, "Invalid payload"),
    ErrorCode.MISSING_PAYLOAD_IMAGE: (400, "Image is required"),
    ErrorCode.INVALID_PAYLOAD_IMAGE_MISSING: (400, "Image must be base64 data or an image URL"),
    ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE: (400, "Image must be at most 5 MB and at least 720x480 pixels"),
    ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT: (400, "Image must be a decodable JPEG or PNG"),
    ErrorCode.INVALID_PAYLOAD_CALLBACK_URL: (400, "Invalid callback_url"),
    ErrorCode.INVALID_PAYLOAD_REFERENCE_ID: (400, "reference_id must be 6 to 64 characters of A-Z a-z 0-9 _ -"),
    ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_EXISTS: (400, "reference_id already exists"),
    ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND: (404, "reference_id not found"),
    ErrorCode.INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY: (400, "is_quality must be true if validate_quality is true"),
    ErrorCode.INVALID_SANDBOX_CODE: (400, "Invalid sandbox code"),
    ErrorCode.INSUFFICIENT_QUOTA: (403, "Insufficient quota"),
    ErrorCode.TOO_MANY_REQUESTS: (429, "Too many requests: this App-ID's submit rate is exceeded, retry later"),
    ErrorCode.BAD_PAYLOAD: (422, "Invalid Payload"),
    ErrorCode.NOT_FOUND: (404, "Not found"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "Method not allowed"),
    ErrorCode.INTERNAL_SERVER_ERROR: (500, "Internal server error"),
}


class ContractError(Exception):
    """A request the contract answers with an error body; raised anywhere, rendered once."""

    def __init__(self, code: ErrorCode, message: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        default_status, default_message = _DEFAULTS[code]
        self.code = code
        self.headers = headers or {}  # e.g. Retry-After on a 429
        self.status = status or default_status
        self.message = message or default_message
        super().__init__(f"{self.status} {code}")

    def body(self) -> dict[str, str]:
        return {"message": self.message, "error_code": self.code.value}


class AuthorizationFailed(Exception):
    """Missing or wrong App-ID / API-Key: 401 ``{"message": "Authorization failed"}``."""
