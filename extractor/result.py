"""The extraction result: the one shape the engine returns and the service serialises.

Field names follow the provider contract (``docs/provider-contract.md``);
``valid_until``, ``issue_city`` and ``issue_date`` are ours and never appear among the contract's
fields in a response.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

# The contract's extracted fields, in the order the card prints them (one copy, shared with the pipeline).
from ktp_pipeline.contract import CONTRACT_FIELDS  # noqa: E402

# Printed on the card but not part of the contract.
EXTRA_FIELDS: tuple[str, ...] = ("valid_until", "issue_city", "issue_date")
ALL_FIELDS: tuple[str, ...] = CONTRACT_FIELDS + EXTRA_FIELDS


class FieldReading(BaseModel):
    """One field: the value as printed, the OCR text it came from, and how sure we are.

    ``value`` is what the card prints: the OCR text with only OCR confusions repaired (digits in
    digit fields, a misread letter in a closed-vocabulary word). When a vocabulary or the region
    register matched, ``snapped`` is true and ``canonical`` holds the listed form, which may differ
    from the printed one (a renamed village, another spelling); ``value`` is never replaced by it.
    """

    value: str | None = None
    raw: str | None = None
    confidence: float = Field(0.0, ge=0.0, le=1.0)
    canonical: str | None = None
    snapped: bool = False


class ImageQuality(BaseModel):
    """The contract's four booleans plus the measured scores and the thresholds used."""

    blur: bool = False
    dark: bool = False
    flashlight: bool = False
    grayscale: bool = False
    scores: dict[str, float] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when a check that `validate_quality` enforces (blur, dark, flashlight) fails."""
        return self.blur or self.dark or self.flashlight

    def contract_flags(self) -> dict[str, bool]:
        return {"blur": self.blur, "dark": self.dark, "flashlight": self.flashlight, "grayscale": self.grayscale}


class Check(BaseModel):
    """A soft domain check (NIK structure, NIK vs printed date, ...): never a rejection."""

    name: str
    ok: bool
    detail: str = ""


class KtpExtraction(BaseModel):
    """What ``extractor.engine.extract(image_bytes)`` returns."""

    ktp_detected: bool
    fields: dict[str, FieldReading] = Field(default_factory=dict)
    image_quality: ImageQuality = Field(default_factory=ImageQuality)
    checks: list[Check] = Field(default_factory=list)
    engine: str = ""
    seconds: float = 0.0

    def value(self, name: str) -> str | None:
        reading = self.fields.get(name)
        return reading.value if reading else None

    def contract_fields(self) -> dict[str, str]:
        """The contract's fields as strings ("" where nothing was read)."""
        return {name: self.value(name) or "" for name in CONTRACT_FIELDS}
