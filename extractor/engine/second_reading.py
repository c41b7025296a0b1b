"""A second opinion from the stronger model on the lines the fast model may have misread.

The fast model reads a clean card well, but the fields nothing can check (names, addresses) and
the readings that did not snap to a known value are where its rare misreads hide (`BMA` for
`BIMA`). Re-reading just those lines costs a few tens of milliseconds each with the stronger
model, against half a second for the whole card. The fast model's boxes keep their places; only
the re-read lines change. Per field, a reading that a register or vocabulary confirms beats one
that nothing confirms; otherwise the stronger model's reading wins.

Rows the fast model missed entirely (label and all) are read from strips, and as a last resort
the stronger model reads the whole card again. ``second_opinion``, ``read_unread_rows`` and
``whole_card_again`` are those three stages; the pipeline decides which of them a card gets.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from extractor.engine import localize
from extractor.engine.backends import Models, OcrBackend, TextBox
from extractor.engine.interpretation import Reading, interpret, with_checks
from extractor.engine.layout import ROW_ORDER, Piece, RawField, expected_rows
from extractor.engine.ocr_pass import Attempt, ocr
from extractor.engine.regions import snap_bare_city
from extractor.engine.thresholds import (
    CONFIRMED_CONFIDENCE,
    PAD_X,
    PAD_Y,
    STRIP_PITCHES,
    STRIP_RIGHT,
    WHOLE_CARD_LABEL_MARGIN,
)
from extractor.result import ALL_FIELDS, FieldReading

# Nothing checks these: they are always re-read.
UNCHECKED_FIELDS = ("full_name", "address")
# The layout row each field is printed on.
FIELD_ROWS = {"place_of_birth": "birth", "date_of_birth": "birth", "blood_type": "gender"}


def confirmed(name: str, reading: FieldReading) -> bool:
    """Does something beyond the OCR vouch for this value (a vocabulary, the region register)?"""
    if not reading.value or name in UNCHECKED_FIELDS:
        return False
    if name == "place_of_birth":
        # Open-ended, but nearly always a regency or city: exactly one of those confirms it.
        found = snap_bare_city(reading.value)
        return found is not None and found[1] == 0
    return reading.confidence >= CONFIRMED_CONFIDENCE


def row_of(name: str) -> str:
    return FIELD_ROWS.get(name, name)


def unread_rows(doubtful: list[str], raw: dict[str, RawField]) -> list[str]:
    """Labelled rows (below the NIK) holding a doubtful field of which nothing at all was read."""
    rows = {row_of(name) for name in doubtful}
    return [row for row in ROW_ORDER[1:] if row in rows and row not in raw]


def read_row_strips(backend: OcrBackend, card: np.ndarray, boxes: list[TextBox], rows: list[str]) -> list[TextBox]:
    """``boxes`` with each unread row's strip (label and value, left of the photo) read again.

    The fast model may have missed a whole row (label included); its place follows from the rows
    it did read. A strip that yields nothing leaves the boxes as they were.
    """
    found = expected_rows(boxes)
    if found is None:
        return boxes
    centres, pitch = found
    height, width = card.shape[:2]
    right = int(STRIP_RIGHT * width)
    bands, crops = [], []
    for row in rows:
        y0 = max(0, int(centres[row] - STRIP_PITCHES / 2 * pitch))
        y1 = min(height, int(round(centres[row] + STRIP_PITCHES / 2 * pitch)))
        if y1 - y0 >= 8:
            bands.append((centres[row], y0))
            crops.append(localize.encode_for_ocr(card[y0:y1, :right]))
    merged = boxes
    for (centre, y0), read in zip(bands, backend.read_many(crops)):
        new = [
            TextBox(b.text, b.confidence, b.x0, b.y0 + y0, b.x1, b.y1 + y0)
            for b in read
            if abs(b.cy + y0 - centre) <= pitch / 2
        ]
        if new:
            # The strip's reading replaces whatever the fast model made of the same band.
            merged = [b for b in merged if not (abs(b.cy - centre) <= pitch / 2 and b.x0 < right)] + new
    return merged


def fields_to_reread(fields: dict[str, FieldReading], raw: dict[str, RawField]) -> list[str]:
    """The raw entries (layout rows) of the fields that have boxes but no outside confirmation."""
    names = []
    for name, reading in fields.items():
        # The blood type has its own raw entry, cut out of the gender row's boxes.
        source = name if name in raw else row_of(name)
        if source in raw and not confirmed(name, reading):
            names.append(source)
    return list(dict.fromkeys(names))


def _inside(piece: Piece, box: TextBox) -> bool:
    return box.y0 <= piece.cy <= box.y1 and box.x0 <= (piece.x0 + piece.x1) / 2 <= box.x1


def boxes_of(raw: dict[str, RawField], names: list[str], boxes: list[TextBox]) -> list[TextBox]:
    """The OCR boxes that the given raw fields were built from."""
    pieces = [piece for name in names if name in raw for piece in raw[name].pieces]
    return [box for box in boxes if any(_inside(piece, box) for piece in pieces)]


def reread_boxes(backend: OcrBackend, card: np.ndarray, targets: list[TextBox]) -> dict[int, list[TextBox]]:
    """Each target box (by index in ``targets``) read again by ``backend`` from a crop of the card.

    Boxes in the crop whose centre falls outside the original line (a neighbour's descenders)
    are dropped; an empty re-read leaves the original in place (no entry).
    """
    height, width = card.shape[:2]
    windows: list[tuple[int, int, int]] = []  # (target index, x0, y0)
    crops: list[bytes] = []
    for index, box in enumerate(targets):
        x0 = max(0, int(box.x0 - PAD_X * box.height))
        x1 = min(width, int(round(box.x1 + PAD_X * box.height)))
        y0 = max(0, int(box.y0 - PAD_Y * box.height))
        y1 = min(height, int(round(box.y1 + PAD_Y * box.height)))
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            windows.append((index, x0, y0))
            crops.append(localize.encode_for_ocr(card[y0:y1, x0:x1]))
    replaced: dict[int, list[TextBox]] = {}
    for (index, x0, y0), found in zip(windows, backend.read_many(crops)):
        box = targets[index]
        mapped = [
            TextBox(b.text, b.confidence, b.x0 + x0, b.y0 + y0, b.x1 + x0, b.y1 + y0)
            for b in found
            if box.y0 <= b.cy + y0 <= box.y1
        ]
        if mapped:
            replaced[index] = mapped
    return replaced


def merge_boxes(boxes: list[TextBox], targets: list[TextBox], replaced: dict[int, list[TextBox]]) -> list[TextBox]:
    """``boxes`` with each re-read target swapped for its new reading."""
    swap = {id(targets[i]): new for i, new in replaced.items()}
    merged: list[TextBox] = []
    for box in boxes:
        merged.extend(swap.get(id(box), [box]))
    return merged


def choose(name: str, first: FieldReading, second: FieldReading) -> FieldReading:
    """The better of two readings of one field: a confirmed one, else the stronger model's."""
    first_ok, second_ok = confirmed(name, first), confirmed(name, second)
    if first_ok != second_ok:
        return first if first_ok else second
    return second if second.value else first


# --- the three stages ---------------------------------------------------------------------------


def second_opinion(models: Models, reading: Reading) -> Reading:
    """The fast model's unconfirmed lines re-read by the stronger model.

    Nothing to do without a stronger model, or when the stronger model read the card itself.
    """
    attempt = reading.attempt
    if models.stronger is None or attempt.engine == models.stronger.name:
        return reading
    rows = fields_to_reread(reading.fields, reading.raw)
    targets = boxes_of(reading.raw, rows, attempt.boxes)
    replaced = reread_boxes(models.stronger, attempt.card, targets) if targets else {}
    if not replaced:
        return reading
    again = interpret(replace(attempt, boxes=merge_boxes(attempt.boxes, targets, replaced)))
    return merged(reading, again, rows, models.name)


def read_unread_rows(models: Models, reading: Reading) -> Reading:
    """Rows of doubtful fields the fast model missed entirely (label and all), read from strips."""
    rows = unread_rows(reading.doubtful_fields(), reading.raw)
    if models.stronger is None or not rows:
        return reading
    attempt = reading.attempt
    boxes = read_row_strips(models.stronger, attempt.card, attempt.boxes, rows)
    if boxes is attempt.boxes:
        return reading
    return merged(reading, interpret(replace(attempt, boxes=boxes)), rows, models.name)


def needs_whole_card(reading: Reading) -> bool:
    """Still doubtful where reading lines again cannot help: a field with nothing read, a failed check.

    A doubtful field whose line the stronger model already re-read would read the same again.
    """
    if not reading.checks_pass:
        return True
    return any(row_of(name) not in reading.raw for name in reading.doubtful_fields())


def whole_card_again(stronger: OcrBackend, attempt: Attempt) -> Attempt | None:
    """The stronger model's reading of the whole card, or None when it finds clearly fewer labels."""
    again = ocr(stronger, attempt.card, attempt.unlevelled)
    if again.hits >= attempt.hits - WHOLE_CARD_LABEL_MARGIN or again.score > attempt.score:
        return again
    return None


def merged(reading: Reading, again: Reading, rows: list[str], engine: str) -> Reading:
    """``reading`` with the fields printed on ``rows`` taken from ``again`` where it reads them better."""

    def on_rows(key: str) -> bool:
        return key in rows or row_of(key) in rows

    fields = dict(reading.fields)
    for name in filter(on_rows, ALL_FIELDS):
        fields[name] = choose(name, fields[name], again.fields[name])
    raw = reading.raw | {key: value for key, value in again.raw.items() if on_rows(key)}
    return with_checks(reading.attempt, fields, raw, engine)
