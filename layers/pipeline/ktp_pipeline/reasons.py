"""Human `status_reason` texts next to each `error_code`: what happened and what the user can do."""

from __future__ import annotations

_REASONS: dict[str, str] = {
    # Result error codes (the provider processed the image and gave up).
    "FAIL_ON_1": "The photo failed the quality check (blurred, too dark or flash glare). Upload a sharper, well-lit photo.",
    "KTP_NOT_DETECTED": "No KTP card was found in the image. Upload a photo of the front of the card.",
    "INTERNAL_SERVER_ERROR": "The extraction provider failed while processing the image. Upload it again.",
    # Submit error codes (the provider refused the request).
    "INVALID_PAYLOAD": "The provider could not read the request. Upload the image again; if it repeats, contact support.",
    "MISSING_PAYLOAD_IMAGE": "The request reached the provider without an image. Upload the image again.",
    "INVALID_PAYLOAD_IMAGE_MISSING": "The provider received an empty or unreadable image. Upload the image again.",
    "INVALID_PAYLOAD_IMAGE_SIZE": "The image is over 5 MB or smaller than 720×480 pixels. Upload a JPEG/PNG within those limits.",
    "INVALID_PAYLOAD_IMAGE_FORMAT": "The image is not a readable JPEG or PNG. Upload a JPEG or PNG photo.",
    "INVALID_PAYLOAD_CALLBACK_URL": "The pipeline's callback URL was refused by the provider (operator configuration). Ask the operator to fix CALLBACK_URL, then upload again.",
    "INVALID_PAYLOAD_REFERENCE_ID": "The provider refused the job id (operator configuration). Contact support.",
    "INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY": "The provider refused the quality-validation setting (operator configuration). Ask the operator to check VALIDATE_QUALITY.",
    "BAD_PAYLOAD": "The provider refused the request as invalid. Upload the image again; if it repeats, contact support.",
    # Transient causes kept on RETRY / TIMED_OUT items.
    "INSUFFICIENT_QUOTA": "The provider quota is exhausted; the job will be retried.",
    "TOO_MANY_REQUESTS": "The provider's submit rate for this application was exceeded; the job will be retried.",
    "AUTHORIZATION_FAILED": "The provider refused the pipeline's credentials (operator configuration); the job will be retried.",
    "PROVIDER_UNREACHABLE": "The provider could not be reached; the job will be retried.",
    "UNREADABLE_RESULT": "The provider answered with an unreadable result; it will be checked again.",
    "PROVIDER_CREDENTIALS_UNAVAILABLE": "The pipeline could not read its provider credentials (operator configuration); the job will be retried.",
    "RESULT_NOT_FOUND": "The provider had no record of the job; it is being sent again.",
    "OBJECT_READ_FAILED": "The uploaded file could not be read yet; the job will be retried.",
    # Local decisions.
    "RESULT_TOO_LARGE": "The provider's result was too large to store (over 300 KB), so none of it was kept. Upload the image again; if it repeats, contact support.",
    "OBJECT_NOT_FOUND": "The uploaded file was deleted before it could be processed. Upload it again.",
}


def reason_for(error_code: str | None) -> str:
    if error_code is None:
        return ""
    if error_code in _REASONS:
        return _REASONS[error_code]
    if error_code.startswith("HTTP_"):
        return f"The provider answered HTTP {error_code[5:]}; the job will be retried."
    return f"The provider reported {error_code}."


def timed_out_reason(last_error_code: str | None, deadline_seconds: int) -> str:
    base = f"No result within {deadline_seconds} seconds of upload"
    if last_error_code:
        return f"{base} (last problem: {last_error_code}). Upload the image again, or contact support if it repeats."
    return f"{base}. Upload the image again, or contact support if it repeats."
