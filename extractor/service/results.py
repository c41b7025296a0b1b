"""Result bodies: the contract's envelope plus our extras in one top-level ``ktp_extractor`` object.

The same body is served by ``GET .../result`` and POSTed to the callback URL.

    {"message", "status_code", "data": {reference_id, <contract fields>, image_quality},
     ["error_code"], "ktp_extractor": {...}}

``status_code`` is the contract's billing status string (its values are unpublished; ours are
``BILLED`` for an extraction delivered, ``NOT_BILLED`` for a failed job, ``PENDING`` while
processing).
"""

from __future__ import annotations

from typing import Any

from extractor.result import EXTRA_FIELDS, KtpExtraction
from extractor.service.errors import JobErrorCode

EXTRA_KEY = "ktp_extractor"
EXTRA_VERSION = 1

STATUS_BILLED = "BILLED"
STATUS_NOT_BILLED = "NOT_BILLED"
STATUS_PENDING = "PENDING"

_FAILURE_MESSAGES = {
    JobErrorCode.FAIL_ON_1: "Image quality validation failed",
    JobErrorCode.KTP_NOT_DETECTED: "KTP not detected",
    JobErrorCode.INTERNAL_SERVER_ERROR: "Internal server error",
}


def processing_body(reference_id: str, state: str, validate_quality: bool) -> dict[str, Any]:
    """While a job is queued or running: HTTP 200, no extracted fields, no ``error_code``."""
    return {
        "message": "processing",
        "status_code": STATUS_PENDING,
        "data": {"reference_id": reference_id},
        EXTRA_KEY: {"version": EXTRA_VERSION, "state": state, "validate_quality": validate_quality},
    }


def extraction_body(
    reference_id: str,
    extraction: KtpExtraction,
    validate_quality: bool,
    timings: dict[str, float],
    sandbox: bool = False,
) -> tuple[JobErrorCode | None, dict[str, Any]]:
    """Turn an engine result into (error_code or None, body)."""
    quality = extraction.image_quality
    extra: dict[str, Any] = {
        "version": EXTRA_VERSION,
        "state": "completed",
        "validate_quality": validate_quality,
        "sandbox": sandbox,
        "ktp_detected": extraction.ktp_detected,
        "engine": extraction.engine,
        "quality": {"scores": quality.scores, "thresholds": quality.thresholds},
        "timings": {name: round(value, 3) for name, value in timings.items()},
    }
    # A "completed" body without a single field would read as "still processing" to a contract
    # client (200, no fields, no error_code); a card with nothing legible is reported as not detected.
    legible = any(extraction.contract_fields().values())
    # A card too blurred or dark to read is a photo to retake, not a missing KTP: FAIL_ON_1 even
    # without validate_quality, since there is nothing else to answer with.
    unreadable_card = extraction.ktp_detected and not legible and quality.failed
    if not unreadable_card and (not extraction.ktp_detected or not legible):
        return JobErrorCode.KTP_NOT_DETECTED, failure_body(reference_id, JobErrorCode.KTP_NOT_DETECTED, extra)

    if (validate_quality or unreadable_card) and quality.failed:
        body = failure_body(reference_id, JobErrorCode.FAIL_ON_1, extra)
        # Which check failed is the useful part of a quality failure; everything read from the
        # card (fields, raw text, extras) is withheld, as for any failed job.
        body["data"]["image_quality"] = quality.contract_flags()
        return JobErrorCode.FAIL_ON_1, body

    extra.update(
        {name: extraction.value(name) for name in EXTRA_FIELDS}
        | {
            "confidence": {name: reading.confidence for name, reading in extraction.fields.items()},
            "raw_text": {name: reading.raw for name, reading in extraction.fields.items()},
            "checks": [check.model_dump() for check in extraction.checks],
        }
    )
    data: dict[str, Any] = {"reference_id": reference_id}
    data.update(extraction.contract_fields())
    data["image_quality"] = quality.contract_flags()
    return None, {"message": "success", "status_code": STATUS_BILLED, "data": data, EXTRA_KEY: extra}


def failure_body(reference_id: str, code: JobErrorCode, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    extra = dict(extra or {"version": EXTRA_VERSION})
    extra["state"] = "failed"
    return {
        "message": _FAILURE_MESSAGES[code],
        "status_code": STATUS_NOT_BILLED,
        "error_code": code.value,
        "data": {"reference_id": reference_id},
        EXTRA_KEY: extra,
    }
