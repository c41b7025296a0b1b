"""Interpretation: an OCR pass's boxes → spaced text → layout rows → normalised fields + NIK checks."""

from __future__ import annotations

from dataclasses import dataclass

from extractor.engine.layout import RawField, parse_layout
from extractor.engine.nik import nik_checks
from extractor.engine.normalize import latin_punctuation, normalize_fields
from extractor.engine.ocr_pass import Attempt
from extractor.engine.spacing import restore_all as restore_spaces
from extractor.engine.thresholds import TRUSTED_CONFIDENCE
from extractor.result import ALL_FIELDS, Check, FieldReading


@dataclass(frozen=True)
class Reading:
    attempt: Attempt  # the pass whose boxes (some perhaps re-read) the fields come from
    fields: dict[str, FieldReading]
    checks: list[Check]
    raw: dict[str, RawField]  # layout rows, with the boxes' pieces each field was built from
    engine: str  # the model(s) that produced the fields

    @property
    def doubtful(self) -> bool:
        return bool(self.doubtful_fields()) or not self.checks_pass

    @property
    def checks_pass(self) -> bool:
        return all(check.ok for check in self.checks)

    def doubtful_fields(self) -> list[str]:
        return [name for name in ALL_FIELDS if self._doubtful(name)]

    def _doubtful(self, name: str) -> bool:
        reading = self.fields[name]
        if name == "blood_type" and reading.value == "-":
            # Nothing after `Gol. Darah :` is the printed dash or no entry; a stronger model reads
            # the same blank, so it is no reason to read the card again.
            return False
        return not reading.value or reading.confidence < TRUSTED_CONFIDENCE


def interpret(attempt: Attempt) -> Reading:
    boxes = [box if (text := latin_punctuation(box.text)) == box.text else box.with_text(text) for box in attempt.boxes]
    boxes = restore_spaces(attempt.card, boxes)
    raw = parse_layout(boxes, card_width=attempt.card.shape[1])
    fields = normalize_fields(raw)
    return with_checks(attempt, {name: fields[name] for name in ALL_FIELDS}, raw, attempt.engine)


def with_checks(attempt: Attempt, fields: dict[str, FieldReading], raw: dict[str, RawField], engine: str) -> Reading:
    """A reading of ``fields``, with the NIK checked against the printed birth date and gender."""
    checks = nik_checks(fields["nik"].value, fields["date_of_birth"].value, fields["gender"].value)
    return Reading(attempt, fields, checks, raw, engine)
