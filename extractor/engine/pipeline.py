"""extract(): decode → localise → OCR (trying orientations) → layout → normalise → checks."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from extractor.engine import localize, quality, second_reading
from extractor.engine.backends import OcrBackend, TextBox, create_backend
from extractor.engine.layout import RawField, match_label, parse_layout, split_label_prefix
from extractor.engine.fuzzy import levenshtein, squash
from extractor.engine.nik import nik_checks
from extractor.engine.normalize import normalize_fields
from extractor.engine.spacing import restore_all as restore_spaces
from extractor.result import ALL_FIELDS, Check, FieldReading, ImageQuality, KtpExtraction

# A card is "detected" when at least this many distinct row labels are read.
MIN_LABELS_DETECTED = 4
# Below this many labels the first orientation is doubted and the others are tried.
GOOD_LABELS = 9

_backend: OcrBackend | None = None
_backend_lock = threading.Lock()


def get_backend() -> OcrBackend:
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                _backend = create_backend()
    return _backend


def set_backend(backend: OcrBackend | None) -> None:
    """Swap the process-wide backend (benchmarks compare engines this way; None = default again)."""
    global _backend
    with _backend_lock:
        _backend = backend


def warm_up() -> None:
    from extractor.engine import regions

    backend = get_backend()
    backend.load()
    regions.warm_up()
    fallback = getattr(backend, "fallback", None)
    # One inference at the card's size: the engine sizes its buffers on the first image of a shape.
    card = np.full((localize.CARD_HEIGHT, localize.CARD_WIDTH, 3), 255, dtype=np.uint8)
    cv2.putText(card, "NIK : 3171234567890001", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    backend.read(localize.encode_for_ocr(card))
    if fallback is not None:
        fallback.read(localize.encode_for_ocr(card))


def has_ktp_anchor(boxes: list[TextBox]) -> bool:
    """Something only a KTP front has: the NIK label, a 16-digit number or the PROVINSI header.

    Row labels alone are shared with other Indonesian documents (a SIM also prints Nama, Alamat,
    Tempat/Tgl Lahir, Pekerjaan).
    """
    for box in boxes:
        key = squash(box.text)
        digits = sum(ch.isdigit() for ch in key)
        if key.startswith("NIK") or (digits >= 14 and digits >= 0.8 * len(key)):
            return True
        if levenshtein(key[:8], "PROVINSI", 2) <= 2:
            return True
    return False


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


@dataclass
class _Attempt:
    card: np.ndarray
    boxes: list[TextBox]
    hits: int
    engine: str
    # The card before levelling: quality is measured on it (interpolation would soften edges).
    unlevelled: np.ndarray | None = None

    @property
    def score(self) -> float:
        confidence = sum(b.confidence for b in self.boxes) / len(self.boxes) if self.boxes else 0.0
        return self.hits + confidence


def _ocr(backend: OcrBackend, card: np.ndarray) -> _Attempt:
    boxes = backend.read(localize.encode_for_ocr(card))
    # A cascade's first pass is its primary model: report the model that actually read the card.
    return _Attempt(card, boxes, label_hits(boxes), getattr(backend, "primary", backend).name)


def _whole_frame(image: np.ndarray) -> np.ndarray:
    """The full photo, levelled by its text lines, when no card outline was found."""
    frame = localize.fit_width(image)
    return localize.deskew(frame, localize.estimate_skew(frame))


def _brighten_if_dark(card: np.ndarray) -> np.ndarray:
    """Stretch a dim card's levels (1st-99th percentile to full range): OCR reads contrast, not light."""
    grey = cv2.cvtColor(card, cv2.COLOR_BGR2GRAY)
    if grey.mean() >= quality.THRESHOLDS["dark_mean"] + 10:
        return card
    low, high = np.percentile(grey, (1, 99))
    if high - low < 8:
        return card
    scale = 255.0 / (high - low)
    return cv2.convertScaleAbs(card, alpha=scale, beta=-low * scale)


def _read_card(backend: OcrBackend, image: np.ndarray) -> _Attempt:
    """OCR the card in its likeliest orientation; other orientations only when few labels are read.

    An upside-down or sideways card almost never yields several KTP labels, so the first
    orientation that does is taken without trying the rest.
    """
    quad = localize.find_card(image)
    if quad is not None:
        unlevelled = localize.warp_card(image, quad)
        # A loose outline (shadow, vignette) leaves the text tilted: level it by its lines.
        base = localize.deskew(unlevelled, localize.estimate_skew(unlevelled))
    else:
        unlevelled = localize.fit_width(image)
        base = _whole_frame(image)
    base = _brighten_if_dark(base)
    portrait = base.shape[0] > base.shape[1]
    order = (90, 270, 0, 180) if portrait else (0, 180, 90, 270)
    best: _Attempt | None = None
    for degrees in order:
        attempt = _ocr(backend, localize.rotate(base, degrees))
        if best is None or attempt.score > best.score:
            best = attempt
        if best.hits >= MIN_LABELS_DETECTED:
            best.unlevelled = unlevelled
            return best
    if quad is not None:
        # The outline may have been wrong (background edge, half the card): read the whole frame.
        whole = _ocr(backend, _whole_frame(image))
        if whole.score > best.score:
            best = whole
            unlevelled = localize.fit_width(image)
    best.unlevelled = unlevelled
    return best


# A reading of a blurred or dark card is trusted without a second pass only when every field
# was read with at least this confidence and every NIK check passes.
TRUSTED_CONFIDENCE = 0.85


@dataclass
class _Reading:
    attempt: _Attempt
    fields: dict[str, FieldReading]
    checks: list[Check]
    raw: dict[str, RawField] = field(default_factory=dict)
    engine: str = ""  # the model(s) that produced the fields

    @property
    def doubtful(self) -> bool:
        return bool(self.doubtful_fields()) or not all(check.ok for check in self.checks)

    def doubtful_fields(self) -> list[str]:
        return [name for name in ALL_FIELDS if self._doubtful(name)]

    def _doubtful(self, name: str) -> bool:
        reading = self.fields[name]
        if name == "blood_type" and reading.value == "-":
            # Nothing after `Gol. Darah :` is the printed dash or no entry; a stronger model reads
            # the same blank, so it is no reason to read the card again.
            return False
        return not reading.value or reading.confidence < TRUSTED_CONFIDENCE


def _interpret(attempt: _Attempt) -> _Reading:
    boxes = restore_spaces(attempt.card, attempt.boxes)
    raw: dict[str, RawField] = parse_layout(boxes, card_width=attempt.card.shape[1])
    fields = normalize_fields(raw)
    fields = {name: fields[name] for name in ALL_FIELDS}
    checks = nik_checks(fields["nik"].value, fields["date_of_birth"].value, fields["gender"].value)
    return _Reading(attempt, fields, checks, raw, attempt.engine)


def _merged(reading: _Reading, again: _Reading, rows: list[str]) -> _Reading:
    """``reading`` with the fields printed on ``rows`` taken from ``again`` where it reads them better."""
    def on_rows(key: str) -> bool:
        return key in rows or second_reading.row_of(key) in rows

    fields = dict(reading.fields)
    for name in filter(on_rows, ALL_FIELDS):
        fields[name] = second_reading.choose(name, fields[name], again.fields[name])
    raw = reading.raw | {key: value for key, value in again.raw.items() if on_rows(key)}
    checks = nik_checks(fields["nik"].value, fields["date_of_birth"].value, fields["gender"].value)
    return _Reading(reading.attempt, fields, checks, raw, get_backend().name)


def _second_opinion(reading: _Reading) -> _Reading:
    """Re-read the fast model's unconfirmed lines with a cascade's stronger model (see second_reading)."""
    fallback = getattr(get_backend(), "fallback", None)
    attempt = reading.attempt
    if fallback is None or attempt.engine == fallback.name:
        return reading
    rows = second_reading.fields_to_reread(reading.fields, reading.raw)
    targets = second_reading.boxes_of(reading.raw, rows, attempt.boxes)
    replaced = second_reading.reread_boxes(fallback, attempt.card, targets) if targets else {}
    if not replaced:
        return reading
    again = _interpret(replace(attempt, boxes=second_reading.merge_boxes(attempt.boxes, targets, replaced)))
    return _merged(reading, again, rows)


def _read_unread_rows(reading: _Reading) -> _Reading:
    """Rows the fast model missed entirely (label and all) read from strips by the stronger model."""
    fallback = getattr(get_backend(), "fallback", None)
    rows = second_reading.unread_rows(reading.doubtful_fields(), reading.raw)
    if fallback is None or not rows:
        return reading
    attempt = reading.attempt
    boxes = second_reading.read_row_strips(fallback, attempt.card, attempt.boxes, rows)
    if boxes is attempt.boxes:
        return reading
    return _merged(reading, _interpret(replace(attempt, boxes=boxes)), rows)


def _needs_whole_card(reading: _Reading) -> bool:
    """Still doubtful where reading lines again cannot help: a field with nothing read, a failed check.

    A doubtful field whose line the stronger model already re-read would read the same again.
    """
    if not all(check.ok for check in reading.checks):
        return True
    return any(second_reading.row_of(name) not in reading.raw for name in reading.doubtful_fields())


def _read_with_fallback(image: np.ndarray) -> tuple[_Attempt, ImageQuality, _Reading | None]:
    attempt = _read_card(get_backend(), image)
    image_quality = quality.measure(attempt.unlevelled if attempt.unlevelled is not None else attempt.card)
    # Cascade backends bring in their stronger model step by step. A card whose labels were read
    # gets a second opinion on its unconfirmed lines; on a blurred or dark photo (where the fast
    # model loses characters, even whole rows, though it finds most labels) a still doubtful
    # reading gets the rows it missed read from strips. The whole card is read again only when
    # few labels were read, or when something is still missing or a NIK check fails. The stronger
    # reading wins unless it finds clearly fewer labels.
    fallback = getattr(get_backend(), "fallback", None)
    if fallback is None:
        return attempt, image_quality, None
    reading = None
    if attempt.hits >= GOOD_LABELS:
        reading = _second_opinion(_interpret(attempt))
        if not ((image_quality.blur or image_quality.dark) and reading.doubtful):
            return attempt, image_quality, reading
        reading = _read_unread_rows(reading)
        if not _needs_whole_card(reading):
            return attempt, image_quality, reading
    second = _ocr(fallback, attempt.card)
    if second.hits >= attempt.hits - 1 or second.score > attempt.score:
        second.unlevelled = attempt.unlevelled
        return second, image_quality, None
    return attempt, image_quality, reading


def extract(image: bytes) -> KtpExtraction:
    started = time.perf_counter()
    decoded = localize.decode(image)
    attempt, image_quality, reading = _read_with_fallback(decoded)
    detected = attempt.hits >= MIN_LABELS_DETECTED and has_ktp_anchor(attempt.boxes)
    if not detected:
        return KtpExtraction(
            ktp_detected=False,
            image_quality=image_quality,
            engine=attempt.engine,
            seconds=round(time.perf_counter() - started, 4),
        )
    reading = reading or _second_opinion(_interpret(attempt))
    return KtpExtraction(
        ktp_detected=True,
        fields=reading.fields,
        image_quality=image_quality,
        checks=reading.checks,
        engine=reading.engine,
        seconds=round(time.perf_counter() - started, 4),
    )
