"""OCR passes over a whole card: the first one searches the orientation; label counts judge them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from extractor.engine import localize
from extractor.engine.backends import OcrBackend, TextBox
from extractor.engine.fuzzy import levenshtein, squash
from extractor.engine.layout import match_label, split_label_prefix
from extractor.engine.preprocess import PreparedCard, whole_frame
from extractor.engine.thresholds import (
    ANCHOR_DIGIT_SHARE,
    ANCHOR_DIGITS,
    ANCHOR_HEADER_EDITS,
    MIN_LABELS_DETECTED,
    NIK_MAX_DIGITS,
)


@dataclass(frozen=True)
class Attempt:
    """One model's reading of one card image: its boxes and how many row labels they hold."""

    card: np.ndarray  # the image that was read (levelled, rotated)
    boxes: list[TextBox]
    hits: int  # distinct row labels read
    engine: str  # the model that read it
    unlevelled: np.ndarray  # the same card before levelling, for the quality measures

    @property
    def score(self) -> float:
        confidence = sum(b.confidence for b in self.boxes) / len(self.boxes) if self.boxes else 0.0
        return self.hits + confidence


def ocr(model: OcrBackend, card: np.ndarray, unlevelled: np.ndarray) -> Attempt:
    boxes = model.read(localize.encode_for_ocr(card))
    return Attempt(card, boxes, label_hits(boxes), model.name, unlevelled)


def read_card(model: OcrBackend, prepared: PreparedCard) -> Attempt:
    """OCR the card in its likeliest orientation; other orientations only when few labels are read.

    An upside-down or sideways card almost never yields several KTP labels, so the first
    orientation that does is taken without trying the rest.
    """
    base = prepared.levelled
    portrait = base.shape[0] > base.shape[1]
    order = (90, 270, 0, 180) if portrait else (0, 180, 90, 270)
    best: Attempt | None = None
    for degrees in order:
        attempt = ocr(model, localize.rotate(base, degrees), prepared.unlevelled)
        if best is None or attempt.score > best.score:
            best = attempt
        if best.hits >= MIN_LABELS_DETECTED:
            break
    if prepared.photo is None:
        return best
    if best.hits < MIN_LABELS_DETECTED:
        # The outline may have been wrong (background edge, half the card): read the whole frame.
        whole = ocr(model, whole_frame(prepared.photo), localize.fit_width(prepared.photo))
        return whole if whole.score > best.score else best
    if not has_ktp_header(best.boxes):
        # The rows were read but not the PROVINSI line: an outline whose corner was lost against a
        # pale background cuts the card's top off. The whole frame shows it, if the card has one.
        whole = ocr(model, whole_frame(prepared.photo), localize.fit_width(prepared.photo))
        if detected(whole):
            return whole
    return best


def label_hits(boxes: list[TextBox]) -> int:
    found = set()
    for box in boxes:
        whole = match_label(box.text)
        if whole:
            found.add(whole[0])
            continue
        split = split_label_prefix(box.text)
        if split:
            found.add(split[0])
    return len(found)


def has_ktp_anchor(boxes: list[TextBox]) -> bool:
    """Something only a KTP front has: the NIK label, a 16-digit number or the PROVINSI header.

    Row labels alone are shared with other Indonesian documents (a SIM also prints Nama, Alamat,
    Tempat/Tgl Lahir, Pekerjaan).
    """
    for box in boxes:
        key = squash(box.text)
        digits = sum(ch.isdigit() for ch in key)
        if key.startswith("NIK") or (digits >= ANCHOR_DIGITS and digits >= ANCHOR_DIGIT_SHARE * len(key)):
            return True
        if levenshtein(key[:8], "PROVINSI", ANCHOR_HEADER_EDITS) <= ANCHOR_HEADER_EDITS:
            return True
    return False


def has_ktp_header(boxes: list[TextBox]) -> bool:
    """The centred ``PROVINSI <NAME>`` line every KTP front starts with.

    Other documents share the rows (a SIM, a student card, a letter listing Nama/NIK, a parody card
    that copies the layout) but not this header: a letterhead starts with PEMERINTAH, a parody with
    its joke.
    """
    return any(levenshtein(squash(box.text)[:8], "PROVINSI", ANCHOR_HEADER_EDITS) <= ANCHOR_HEADER_EDITS
               for box in boxes)


def has_overlong_number(boxes: list[TextBox]) -> bool:
    """A box that is one number of NIK_MAX_DIGITS+ digits: a NIK has 16 (a 20-digit "NIK" is a fake)."""
    for box in boxes:
        key = squash(box.text)
        digits = sum(ch.isdigit() for ch in key)
        if digits >= NIK_MAX_DIGITS and digits >= ANCHOR_DIGIT_SHARE * len(key):
            return True
    return False


def detected(attempt: Attempt) -> bool:
    boxes = attempt.boxes
    return (attempt.hits >= MIN_LABELS_DETECTED and has_ktp_anchor(boxes) and has_ktp_header(boxes)
            and not has_overlong_number(boxes))
