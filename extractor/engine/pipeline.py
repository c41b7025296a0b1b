"""extract(): decode → prepare → first OCR pass → quality → the stronger model where needed → output.

Each stage has a typed output: `PreparedCard` (preprocess), `Attempt` (an OCR pass, ocr_pass),
`ImageQuality` (quality), `Reading` (fields and checks, interpretation) and `Settled` (the pass
the card is judged on). Thresholds live in thresholds.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from extractor.engine import card_look, localize, quality
from extractor.engine.backends import Models, OcrBackend, create_backend, models_of
from extractor.engine.interpretation import Reading, interpret
from extractor.engine.ocr_pass import (Attempt, detected, has_ktp_anchor, has_ktp_header, has_overlong_number,
                                       read_card)
from extractor.engine.preprocess import prepare
from extractor.engine.second_reading import needs_whole_card, read_unread_rows, second_opinion, whole_card_again
from extractor.engine.thresholds import GOOD_LABELS, MIN_LABELS_DETECTED
from extractor.result import ImageQuality, KtpExtraction

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
    """Load the models and build the region tables now, so the first card does not pay for them.

    No warm-up inference: measured on 2026-12-03 (2 cores, faster-paddle tiny+small), a first card
    read 0.02-0.03 s faster after one, and the inference itself cost 0.7 s of CPU at every start.
    """
    from extractor.engine import regions

    get_backend().load()
    regions.warm_up()


@dataclass(frozen=True)
class Settled:
    """The OCR pass the card is judged on, and its reading when one was made on the way."""

    attempt: Attempt
    reading: Reading | None


def extract(image: bytes) -> KtpExtraction:
    started = time.perf_counter()
    models = models_of(get_backend())
    prepared = prepare(localize.decode(image))
    first = read_card(models.first, prepared)
    image_quality = quality.measure(first.unlevelled)
    settled = with_stronger_model(models, first, image_quality)
    return _output(models, settled, image_quality, started, card_outline=prepared.photo is not None)


def with_stronger_model(models: Models, first: Attempt, image_quality: ImageQuality) -> Settled:
    """A cascade brings its stronger model in step by step and stops once the reading is trusted.

    1. A card whose labels were read, and that the fast reading already shows to be a KTP, gets
       a second opinion on its unconfirmed lines. That is enough unless the photo is blurred or
       dark (where the fast model loses characters, even whole rows, though it finds most labels)
       and the reading is still doubtful.
    2. Then the rows it missed are read from strips. Enough unless a doubtful field still has
       nothing read or a NIK check fails.
    3. Else, or at once when few labels were read or the fast reading missed what only a KTP
       prints (a small card's PROVINSI read as PROMNSI), the whole card is read again; that
       reading wins unless it finds clearly fewer labels.
    """
    if models.stronger is None:
        return Settled(first, None)
    reading = None
    if first.hits >= GOOD_LABELS and detected(first):
        reading = second_opinion(models, interpret(first))
        if not ((image_quality.blur or image_quality.dark) and reading.doubtful):
            return Settled(first, reading)
        reading = read_unread_rows(models, reading)
        if not needs_whole_card(reading):
            return Settled(first, reading)
    again = whole_card_again(models.stronger, first)
    return Settled(again, None) if again is not None else Settled(first, reading)


def too_poor_to_read(attempt: Attempt, image_quality: ImageQuality, card_outline: bool) -> bool:
    """A KTP the photo's blur or darkness hides: reported as such (a retake), not as "no KTP".

    Flagged blur or dark, no number too long for a NIK read, and either something only a KTP
    prints was read (the NIK or the PROVINSI header) or nothing legible says otherwise and the
    image looks like a KTP (its blue print and rows of text, card_look.py). A row label alone is
    not enough (a blurred member card prints Nama), nor an outline holding lines (a blank card's
    background print). ``card_outline`` is kept for the caller's record.
    """
    if not (image_quality.blur or image_quality.dark) or has_overlong_number(attempt.boxes):
        return False
    if has_ktp_anchor(attempt.boxes) or has_ktp_header(attempt.boxes):
        return True
    return card_look.unreadable_ktp(attempt)


def _output(models: Models, settled: Settled, image_quality: ImageQuality, started: float,
            card_outline: bool = False) -> KtpExtraction:
    attempt = settled.attempt
    if not detected(attempt):
        poor = too_poor_to_read(attempt, image_quality, card_outline)
        if not (poor and attempt.hits >= MIN_LABELS_DETECTED):
            # Nothing legible to interpret: a flagged card is still a card (the service answers
            # FAIL_ON_1), anything else is not a KTP.
            return KtpExtraction(
                ktp_detected=poor,
                image_quality=image_quality,
                engine=attempt.engine,
                seconds=round(time.perf_counter() - started, 4),
            )
    # Not interpreted yet: a single model's card, the stronger model's whole-card reading (no
    # second opinion on itself), or a card with few labels whose fast reading beat that pass.
    reading = settled.reading or second_opinion(models, interpret(attempt))
    if detected(attempt):
        # A problem the photo shows is a retake when severe or when the reading is in doubt.
        image_quality = quality.settle(image_quality, reading.doubtful)
    return KtpExtraction(
        ktp_detected=True,
        fields=reading.fields,
        image_quality=image_quality,
        checks=reading.checks,
        engine=reading.engine,
        seconds=round(time.perf_counter() - started, 4),
    )
