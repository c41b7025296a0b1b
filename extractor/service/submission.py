"""Request validation for ``POST /ktp/id/extract-async``, in the order the contract's codes imply:
payload shape, then types, then each field, then (after cheap checks) the image itself."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from extractor.service.errors import ContractError, ErrorCode
from extractor.service.models import SubmitRequest
from extractor.service.net_guard import DestinationRefused, NetPolicy

REFERENCE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
MAX_CALLBACK_URL_LENGTH = 2048
# 5 MB of image is 6.7 MB of base64; anything much larger cannot be a valid submission.
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Submission:
    image: str
    validate_quality: bool
    reference_id: str | None
    callback_url: str | None


def parse_submission(raw: bytes, policy: NetPolicy, sandbox: bool) -> Submission:
    """Everything that needs no I/O. Image content and sandbox codes are checked later."""
    if not raw.strip():
        raise ContractError(ErrorCode.INVALID_PAYLOAD, "Request body is empty")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise ContractError(ErrorCode.INVALID_PAYLOAD, "Request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ContractError(ErrorCode.INVALID_PAYLOAD, "Request body must be a JSON object")
    empty_strings = sum(1 for key in ("image", "reference_id", "callback_url") if payload.get(key) == "")
    if empty_strings >= 2:
        raise ContractError(ErrorCode.INVALID_PAYLOAD, "Several fields are empty strings")
    try:
        request = SubmitRequest.model_validate(payload)
    except ValidationError:
        raise ContractError(ErrorCode.BAD_PAYLOAD) from None

    if "image" not in payload:
        raise ContractError(ErrorCode.MISSING_PAYLOAD_IMAGE)
    image = (request.image or "").strip()
    if not image:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_MISSING)

    reference_id = request.reference_id
    if reference_id is not None and not sandbox and not REFERENCE_ID_PATTERN.match(reference_id):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID)

    callback_url = None
    if "callback_url" in payload:
        callback_url = request.callback_url
        if not callback_url or len(callback_url) > MAX_CALLBACK_URL_LENGTH:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_CALLBACK_URL)
        try:
            policy.check_url(callback_url)
        except DestinationRefused:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_CALLBACK_URL) from None

    validate_quality = bool(request.validate_quality)
    if validate_quality and request.is_quality is False:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY)

    return Submission(image=image, validate_quality=validate_quality, reference_id=reference_id, callback_url=callback_url)


def check_reference_id_query(reference_id: str) -> None:
    if not REFERENCE_ID_PATTERN.match(reference_id):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID)
