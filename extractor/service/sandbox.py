"""Sandbox mode: the contract's magic strings instead of images and reference ids.

Submissions are validated like real ones, then answered from canned, obviously fake sample data;
the result id encodes the scenario (``REFERENCE_ID_<IMAGE_CODE>`` plus ``_V`` when
``validate_quality`` was on), so ``GET .../result`` for such an id needs no stored job. Callbacks
for sandbox submissions are real deliveries.
"""

from __future__ import annotations

from typing import Any

from extractor.result import FieldReading, ImageQuality, KtpExtraction
from extractor.service.errors import ContractError, ErrorCode, JobErrorCode
from extractor.service.results import extraction_body

# Image code -> quality flags it sets (NO_KTP_DETECTED: no card at all).
QUALITY_CODES: dict[str, frozenset[str]] = {
    "KTP": frozenset(),
    "KTP_B": frozenset({"blur"}),
    "KTP_D": frozenset({"dark"}),
    "KTP_F": frozenset({"flashlight"}),
    "KTP_G": frozenset({"grayscale"}),
    "KTP_BD": frozenset({"blur", "dark"}),
    "KTP_BF": frozenset({"blur", "flashlight"}),
    "KTP_BG": frozenset({"blur", "grayscale"}),
    "KTP_DG": frozenset({"dark", "grayscale"}),
    "KTP_FG": frozenset({"flashlight", "grayscale"}),
}
NO_KTP = "NO_KTP_DETECTED"
SIZE_EXCEEDED = "IMAGE_SIZE_EXCEED_LIMIT"
RESULT_CODES = frozenset(QUALITY_CODES) | {NO_KTP}

REFERENCE_VALID = "REFERENCE_ID"
REFERENCE_CODES = {
    "REFERENCE_ID_EXIST": ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_EXISTS,
    "REFERENCE_ID_TOO_LONG": ErrorCode.INVALID_PAYLOAD_REFERENCE_ID,
    "REFERENCE_ID_TOO_SHORT": ErrorCode.INVALID_PAYLOAD_REFERENCE_ID,
}

# Fixed sample card. Nobody is called "CONTOH SANDBOX"; serial 0000 never occurs in a real NIK.
SAMPLE_FIELDS: dict[str, str] = {
    "nik": "3171011708900000",
    "full_name": "CONTOH SANDBOX",
    "place_of_birth": "JAKARTA",
    "date_of_birth": "17-08-1990",
    "gender": "LAKI-LAKI",
    "blood_type": "O",
    "address": "JL. CONTOH NO. 1",
    "rt_rw": "001/002",
    "administrative_village": "GAMBIR",
    "district": "GAMBIR",
    "city": "JAKARTA PUSAT",
    "state": "DKI JAKARTA",
    "religion": "ISLAM",
    "marital_status": "BELUM KAWIN",
    "occupation": "KARYAWAN SWASTA",
    "nationality": "WNI",
    "valid_until": "SEUMUR HIDUP",
    "issue_city": "JAKARTA PUSAT",
    "issue_date": "01-01-2020",
}


def check_submission(image: str, reference_id: str | None) -> str:
    """Validate the sandbox codes of a submission; return the result id it maps to (without _V)."""
    if reference_id is not None and reference_id != REFERENCE_VALID:
        code = REFERENCE_CODES.get(reference_id)
        raise ContractError(code or ErrorCode.INVALID_SANDBOX_CODE)
    if image == SIZE_EXCEEDED:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
    if image not in RESULT_CODES:
        raise ContractError(ErrorCode.INVALID_SANDBOX_CODE)
    return f"{REFERENCE_VALID}_{image}"


def result_id(image: str, validate_quality: bool) -> str:
    return f"{REFERENCE_VALID}_{image}" + ("_V" if validate_quality else "")


def parse_result_id(reference_id: str) -> tuple[str, bool] | None:
    """``REFERENCE_ID_KTP_B_V`` -> ("KTP_B", True); None if it is not a sandbox result id."""
    prefix = REFERENCE_VALID + "_"
    if not reference_id.startswith(prefix):
        return None
    code = reference_id[len(prefix):]
    validate = code.endswith("_V")
    if validate:
        code = code[:-2]
    return (code, validate) if code in RESULT_CODES else None


def sample_extraction(image_code: str) -> KtpExtraction:
    if image_code == NO_KTP:
        return KtpExtraction(ktp_detected=False, engine="sandbox")
    flags = QUALITY_CODES[image_code]
    quality = ImageQuality(**{flag: True for flag in flags})
    return KtpExtraction(
        ktp_detected=True,
        fields={name: FieldReading(value=value, raw=value, confidence=0.99) for name, value in SAMPLE_FIELDS.items()},
        image_quality=quality,
        engine="sandbox",
    )


def result_body(reference_id: str) -> tuple[JobErrorCode | None, dict[str, Any]] | None:
    parsed = parse_result_id(reference_id)
    if parsed is None:
        return None
    image_code, validate_quality = parsed
    return extraction_body(reference_id, sample_extraction(image_code), validate_quality, timings={}, sandbox=True)
