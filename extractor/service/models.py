"""Payload models: the submit request (parsed strictly: wrong JSON types are 422 BAD_PAYLOAD) and
the response shapes, which also document the API in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from extractor.result import CONTRACT_FIELDS


class SubmitRequest(BaseModel):
    # Unknown keys are ignored: clients written for the commercial provider may send more.
    model_config = ConfigDict(extra="ignore")

    image: StrictStr | None = Field(
        None, description="Base64 JPEG/PNG (optionally a data:image/...;base64, URL) or an https:// image URL. Required."
    )
    validate_quality: StrictBool | None = Field(
        False, description="Fail the job with FAIL_ON_1 when blur, dark or flashlight is detected."
    )
    reference_id: StrictStr | None = Field(
        None, description="Unique per App-ID, 6..64 characters of A-Z a-z 0-9 _ -; a UUID is generated when absent."
    )
    callback_url: StrictStr | None = Field(
        None, description="https:// URL the result is POSTed to (http:// to loopback too when the service runs with --local)."
    )
    is_quality: StrictBool | None = Field(
        None,
        description="Optional. Sending false together with validate_quality=true is contradictory and answered "
        "400 INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY.",
    )


class AcceptedData(BaseModel):
    reference_id: str


class AcceptedResponse(BaseModel):
    message: str = "accepted"
    data: AcceptedData


class DeletedData(BaseModel):
    reference_id: str


class DeletedResponse(BaseModel):
    """Answer of the erasure extension (DELETE on the result path): not part of the provider contract."""

    message: str = "deleted"
    data: DeletedData


class ErrorResponse(BaseModel):
    message: str
    error_code: str


class AuthFailedResponse(BaseModel):
    message: str = "Authorization failed"


class ImageQualityFlags(BaseModel):
    blur: bool
    dark: bool
    flashlight: bool
    grayscale: bool


def _result_data_model() -> type[BaseModel]:
    fields: dict[str, Any] = {name: (str | None, None) for name in CONTRACT_FIELDS}
    from pydantic import create_model

    return create_model(
        "ResultData",
        __config__=ConfigDict(extra="allow"),
        reference_id=(str, ...),
        image_quality=(ImageQualityFlags | None, None),
        **fields,
    )


ResultData = _result_data_model()


class ResultResponse(BaseModel):
    """A finished job has either the contract fields in ``data`` or an ``error_code``; a job still
    processing has neither (``message`` is "processing")."""

    model_config = ConfigDict(extra="allow")

    message: str
    status_code: str
    data: ResultData  # type: ignore[valid-type]
    error_code: str | None = Field(None, description="FAIL_ON_1, KTP_NOT_DETECTED or INTERNAL_SERVER_ERROR")
    ktp_extractor: dict[str, Any] = Field(
        description="Extras beyond the contract (state, confidences, raw text, quality scores, checks, "
        "valid_until, issue_city, issue_date, timings); see docs/extractor-service.md."
    )


class HealthResponse(BaseModel):
    status: str
    sandbox: bool
    workers: int
    jobs: dict[str, int]
