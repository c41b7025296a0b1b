"""Assign OCR line boxes of a normalised card to the KTP's printed rows.

Works on geometry, not on reading order: label boxes are found by fuzzy matching in the label
column, each label's row takes the value boxes that overlap it vertically to its right, lines
without a label below `Nama`/`Alamat` are wrapped continuations, the two centred lines above the
first row are the header (province, city) and the column right of the values (under the photo)
holds the issuing city and date.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from extractor.engine.backends import TextBox
from extractor.engine.fuzzy import allowed_edits, levenshtein, squash
from extractor.engine.thresholds import ROW_PITCH

# Row keys in printed order, with the label spellings seen on cards and in OCR output.
LABELS: dict[str, tuple[str, ...]] = {
    "nik": ("NIK",),
    "full_name": ("Nama",),
    "birth": ("Tempat/Tgl Lahir", "Tempat Tgl Lahir", "Tempat/Tgl.Lahir"),
    "gender": ("Jenis Kelamin", "Jenis kelamin"),
    "address": ("Alamat",),
    "rt_rw": ("RT/RW",),
    "administrative_village": ("Kel/Desa", "Kelurahan/Desa"),
    "district": ("Kecamatan",),
    "religion": ("Agama",),
    "marital_status": ("Status Perkawinan",),
    "occupation": ("Pekerjaan",),
    "nationality": ("Kewarganegaraan",),
    "valid_until": ("Berlaku Hingga",),
}
ROW_ORDER = tuple(LABELS)
# `Gol. Darah :` as OCR reads it on a bad day: "Goi. Darah :", "Gol Dwah:", "Darah : B", "Darah _: -",
# "Darah 1：" (a stroke before the colon).
BLOOD_LABEL = re.compile(
    r"(?:G[O0QI][LI1]?[\s.,]*)?D[AW4R][A-Z]{1,3}[\s_.,'`]*(?:[1Il|]\s*(?=[:：;]))?[:：;]?[\s_]*(?=[ABO08\-+]{0,3}\s*$)",
    re.IGNORECASE,
)
# The label alone, whatever follows it (`Gol. Darah 1i`: a value the recogniser garbled), so that
# the gender value is still cut from it; only with its `Gol` part, to match nothing else.
BLOOD_LABEL_ALONE = re.compile(r"G[O0QI][LI1]?[\s.,]*D[AW4R][A-Z]{1,3}\b[\s_.,'`:：;]*", re.IGNORECASE)
_DATE_IN_LINE = re.compile(r"\d{1,2}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{2,4}")
WRAPPING_ROWS = ("full_name", "address")
_COLONS = ":：;"
_LEADING_NOISE = re.compile(r"^[\s:：;.,|_'`\"-]+")


def strip_value(text: str) -> str:
    return _LEADING_NOISE.sub("", text).strip()


def _label_keys() -> list[tuple[str, str]]:
    return [(key, squash(spelling)) for key, spellings in LABELS.items() for spelling in spellings]


_SQUASHED_LABELS = _label_keys()


def match_label(text: str) -> tuple[str, int] | None:
    """The row key whose label ``text`` is (whole text), with its edit distance."""
    key = squash(text.rstrip(_COLONS + " ."))
    if len(key) < 2:
        return None
    best: tuple[str, int] | None = None
    for row, target in _SQUASHED_LABELS:
        budget = allowed_edits(len(target)) if len(target) > 3 else (1 if len(key) == 3 else 0)
        distance = levenshtein(key, target, budget)
        if distance <= budget and (best is None or distance < best[1]):
            best = (row, distance)
    return best


def split_label_prefix(text: str) -> tuple[str, int, str, int] | None:
    """Split ``"Tempat/Tgl Lahir : BANDUNG, ..."`` into (row key, label length in chars, value, edits).

    Uses the colon when there is one; otherwise tries each label as a prefix of the text.
    """
    for pos, ch in enumerate(text):
        if ch in _COLONS:
            found = match_label(text[:pos])
            if found and strip_value(text[pos + 1:]):
                return found[0], pos + 1, text[pos + 1:], found[1]
            break
    for row, target in _SQUASHED_LABELS:
        if len(target) < 5:
            continue  # short labels as prefixes collide with values (NIKO..., AGAMA...)
        consumed = 0
        letters = 0
        for pos, ch in enumerate(text):
            if ch.isalnum() or ch in "/()+-":
                letters += 1
            if letters == len(target):
                consumed = pos + 1
                break
        if not consumed or consumed >= len(text):
            continue
        distance = levenshtein(squash(text[:consumed]), target, allowed_edits(len(target)))
        if distance <= allowed_edits(len(target)):
            rest = text[consumed:]
            if len(target) >= 8 and rest[:1].isalnum() and rest[1:2] == " ":
                rest = rest[1:]  # the colon misread as a letter ("Perkawinanx BELUM")
            # The label would end in the middle of a word, or nothing follows; but a mixed-case
            # label glued to its upper-case value (`Status Perkawin anKAWIN`) ends where the case does.
            glued = text[consumed - 1].islower() and rest[:1].isupper()
            if (rest[:1].isalnum() and not glued) or not strip_value(rest):
                continue
            return row, consumed, rest, distance
    return None


@dataclass
class Piece:
    """A box, or the part of a box, taking part in layout."""

    text: str
    confidence: float
    x0: float
    y0: float
    x1: float
    y1: float
    label: str | None = None  # row key when this piece is a label

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass
class RawField:
    text: str
    confidence: float
    pieces: list[Piece] = field(default_factory=list)


def _v_overlap(a: Piece, b: Piece) -> float:
    inter = min(a.y1, b.y1) - max(a.y0, b.y0)
    return inter / max(1.0, min(a.height, b.height))


def _pieces(boxes: list[TextBox]) -> list[Piece]:
    """Split label+value boxes and tag label pieces."""
    pieces: list[Piece] = []
    for box in boxes:
        text = box.text.strip()
        whole = match_label(text)
        split = split_label_prefix(text)
        if whole and (split is None or whole[1] <= split[3]):
            pieces.append(Piece(text, box.confidence, box.x0, box.y0, box.x1, box.y1, label=whole[0]))
            continue
        if split:
            row, cut, rest, _ = split
            x_cut = box.x0 + box.width * cut / max(1, len(text))
            pieces.append(Piece(text[:cut], box.confidence, box.x0, box.y0, x_cut, box.y1, label=row))
            if strip_value(rest):
                pieces.append(Piece(rest, box.confidence, x_cut, box.y0, box.x1, box.y1))
            continue
        pieces.append(Piece(text, box.confidence, box.x0, box.y0, box.x1, box.y1))
    return pieces


def _keep_label_column(pieces: list[Piece]) -> None:
    """Labels are left-aligned; a 'label' far right of that column is a value that looks like one."""
    labels = [p for p in pieces if p.label]
    if len(labels) < 3:
        return
    column = statistics.median(p.x0 for p in labels)
    height = statistics.median(p.height for p in labels)
    for piece in labels:
        if piece.x0 > column + 4 * height:
            piece.label = None


def _join(pieces: list[Piece]) -> RawField:
    pieces = sorted(pieces, key=lambda p: p.x0)
    texts = [strip_value(p.text) if i == 0 else p.text.strip() for i, p in enumerate(pieces)]
    text = " ".join(t for t in texts if t)
    weight = sum(max(1, len(t)) for t in texts) or 1
    confidence = sum(p.confidence * max(1, len(t)) for p, t in zip(pieces, texts)) / weight
    return RawField(text, confidence, pieces)


def _lines(pieces: list[Piece]) -> list[list[Piece]]:
    """Group pieces into text lines by vertical overlap."""
    lines: list[list[Piece]] = []
    for piece in sorted(pieces, key=lambda p: p.cy):
        for line in lines:
            if _v_overlap(line[0], piece) > 0.5:
                line.append(piece)
                break
        else:
            lines.append([piece])
    return lines


def _labelled_pieces(boxes: list[TextBox]) -> tuple[list[Piece], dict[str, Piece]]:
    """The boxes as pieces, and the one label piece per row (the most confident; others are text)."""
    pieces = _pieces(boxes)
    _keep_label_column(pieces)
    labels: dict[str, Piece] = {}
    for piece in pieces:
        if piece.label and (piece.label not in labels or piece.confidence > labels[piece.label].confidence):
            labels[piece.label] = piece
    for piece in pieces:
        if piece.label and labels.get(piece.label) is not piece:
            piece.label = None  # a duplicate label: treat as text
    return pieces, labels


def expected_rows(boxes: list[TextBox]) -> tuple[dict[str, float], float] | None:
    """Where each labelled row's centre line should be (and the row pitch), from the labels read.

    The rows below the NIK sit at a regular pitch: the median pitch between read labels and the
    median offset place the unread ones (a wrapped value that pushes later rows down by one
    barely moves the medians).
    """
    return _row_positions(_labelled_pieces(boxes)[1])


def _row_positions(labels: dict[str, Piece]) -> tuple[dict[str, float], float] | None:
    order = {name: i for i, name in enumerate(ROW_ORDER)}
    rows = sorted((order[name], piece.cy) for name, piece in labels.items() if name != "nik")
    pitches = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(rows, rows[1:])]
    if len(pitches) < 2:
        return None
    pitch = statistics.median(pitches)
    anchor = statistics.median(cy - pitch * index for index, cy in rows)
    return {name: anchor + pitch * index for name, index in order.items() if name != "nik"}, pitch


def _card_width_from_rows(labels: dict[str, Piece]) -> float | None:
    """The card's width from the pitch of its label rows (a row every 3.2 % of the width).

    The NIK row is taller than the rest and a wrapped value takes two rows, so the pitch is the
    median over consecutive labelled rows below the NIK.
    """
    order = {name: i for i, name in enumerate(ROW_ORDER)}
    rows = sorted((order[name], piece.cy) for name, piece in labels.items() if name != "nik")
    pitches = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(rows, rows[1:])]
    if len(pitches) < 3:
        return None
    return statistics.median(pitches) / ROW_PITCH


def parse_layout(boxes: list[TextBox], card_width: float) -> dict[str, RawField]:
    """Map OCR boxes (coordinates of the normalised card) to raw field texts by row."""
    pieces, labels = _labelled_pieces(boxes)

    values = [p for p in pieces if not p.label]
    fields: dict[str, RawField] = {}
    if not labels:
        return fields

    heights = [p.height for p in labels.values()]
    text_height = statistics.median(heights)
    # The frame may be wider than the card (no outline found): measure the card by its rows.
    by_rows = _card_width_from_rows(labels)
    if by_rows is not None and by_rows < 0.8 * card_width:
        card_width = by_rows
    label_right = statistics.median(p.x1 for p in labels.values())
    first_row_top = min(p.y0 for p in labels.values())
    ordered = sorted(labels.values(), key=lambda p: p.cy)

    # Value column: where values start (just right of the colons).
    value_starts = [p.x0 for p in values if any(_v_overlap(p, lab) > 0.5 for lab in labels.values()) and p.x0 > label_right - text_height]
    value_x = statistics.median(value_starts) if value_starts else label_right
    right_column_x = value_x + 0.40 * card_width

    # Above the first row; a tall two-line header may reach down beside the NIK label.
    header = [p for p in values if p.y1 <= first_row_top + 0.3 * text_height or p.cy < first_row_top]
    right = [p for p in values if p.x0 >= right_column_x and p not in header]
    body = [p for p in values if p not in header and p not in right]

    # Rows: the body pieces overlapping each label, right of it.
    used: set[int] = set()
    for row, label in labels.items():
        row_pieces = [p for p in body if id(p) not in used and _v_overlap(p, label) > 0.5 and p.x0 >= label.x1 - text_height]
        if not row_pieces:
            continue
        used.update(id(p) for p in row_pieces)
        row_pieces = _cut_photo_column(row_pieces, value_x + 0.3 * card_width, 4 * text_height, right)
        if row_pieces:
            fields[row] = _join(row_pieces)

    # Wrapped continuations: unlabeled body lines between a wrapping row and the next label row.
    leftovers = [p for p in body if id(p) not in used and p.x0 >= value_x - 2 * text_height]
    for line in _lines(leftovers):
        line_y = statistics.median(p.cy for p in line)
        above = [lab for lab in ordered if lab.cy < line_y]
        below = [lab for lab in ordered if lab.cy > line_y]
        if not above:
            continue
        owner = above[-1].label
        gap = line_y - above[-1].cy
        if owner in WRAPPING_ROWS and gap < 2.6 * text_height and (not below or below[0].y0 > min(p.y0 for p in line)):
            continuation = _join(line)
            # A line under `Nama` holding a date is the birth row whose label was not read.
            if owner == "full_name" and "birth" not in fields and _DATE_IN_LINE.search(continuation.text):
                fields["birth"] = continuation
                continue
            if owner in fields:
                prev = fields[owner]
                total = len(prev.text) + len(continuation.text)
                conf = (prev.confidence * len(prev.text) + continuation.confidence * len(continuation.text)) / max(1, total)
                fields[owner] = RawField(f"{prev.text} {continuation.text}", conf, prev.pieces + continuation.pieces)
            else:
                fields[owner] = continuation
            continue
        row = _unlabelled_row(line, labels, fields, value_x, text_height)
        if row is not None:
            fields[row] = _join(line)

    _split_blood_type(fields)
    _header_fields(header, fields)
    _right_column_fields(right, fields)
    return fields


def _unlabelled_row(line: list[Piece], labels: dict[str, Piece], fields: dict[str, RawField],
                    value_x: float, text_height: float) -> str | None:
    """The row a value line belongs to when its label was not read (`NaaI2NR : NANANG LUMENTUT`).

    The line starts at the value column and sits on the place the read labels' pitch gives a row
    that has neither a label nor a value yet, and it is not a wrapped line of the row above (the
    caller has tried that).
    """
    found = _row_positions(labels)
    if found is None or abs(min(p.x0 for p in line) - value_x) > 1.5 * text_height:
        return None
    positions, pitch = found
    line_y = statistics.median(p.cy for p in line)
    free = [name for name in positions if name not in labels and name not in fields]
    near = [name for name in free if abs(positions[name] - line_y) <= 0.3 * pitch]
    return near[0] if len(near) == 1 else None


def _cut_photo_column(pieces: list[Piece], photo_side_x: float, max_gap: float, right: list[Piece]) -> list[Piece]:
    """Keep a row's pieces up to a wide gap that leads under the photo (a long issuing city starts
    left of the usual column); what lies beyond goes to the photo column."""
    pieces = sorted(pieces, key=lambda p: p.x0)
    for i in range(1, len(pieces)):
        if pieces[i].x0 - pieces[i - 1].x1 > max_gap and pieces[i].x0 >= photo_side_x:
            right.extend(pieces[i:])
            return pieces[:i]
    return pieces


def _split_blood_type(fields: dict[str, RawField]) -> None:
    """`Gol. Darah : X` sits on the gender row; separate it from the gender value."""
    gender = fields.get("gender")
    if gender is None:
        return
    match = BLOOD_LABEL.search(gender.text) or BLOOD_LABEL_ALONE.search(gender.text)
    if match is None:
        return
    fields["gender"] = RawField(gender.text[: match.start()].strip(), gender.confidence, gender.pieces)
    blood = strip_value(gender.text[match.end():])
    fields["blood_type"] = RawField(blood, gender.confidence, gender.pieces)


# Sixteen digits in a row, read as digits: only the NIK prints that.
_SIXTEEN_DIGITS = re.compile(r"\d{16}")


def _header_fields(header: list[Piece], fields: dict[str, RawField]) -> None:
    joined = [(line, _join(line)) for line in _lines(header)]
    joined = [(line, text) for line, text in joined if text.text]
    # The NIK row counts as header when its label was not read (a small card's "NIK" read as
    # "NK"): its number is not a province or city line.
    nik_row = next((i for i, (_, text) in enumerate(joined) if _SIXTEEN_DIGITS.search(re.sub(r"\s", "", text.text))), None)
    if nik_row is not None:
        line, _ = joined.pop(nik_row)
        if "nik" not in fields:
            fields["nik"] = _join([p for p in line if sum(c.isdigit() for c in p.text) >= 8])
    lines = [text for _, text in joined]
    if not lines:
        return
    province_index = next((i for i, line in enumerate(lines) if squash(line.text).startswith(("PROVINSI", "PROPINSI"))), None)
    if province_index is None and len(lines) >= 2:
        province_index = 0
    if province_index is not None:
        fields["state"] = lines[province_index]
        rest = lines[province_index + 1:]
        if rest:
            fields["city"] = rest[0]
    else:
        fields["city"] = lines[0]


_DATE_LIKE = re.compile(r"\d{1,2}\s*[-./]?\s*\d{1,2}\s*[-./]?\s*\d{4}|\d{1,2}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{2}")


def _right_column_fields(right: list[Piece], fields: dict[str, RawField]) -> None:
    """Issuing city and issue date, printed under the photo (the date line last)."""
    lines = [_join(line) for line in _lines(right)]
    lines = [line for line in lines if line.text]
    date_index = next((i for i in range(len(lines) - 1, -1, -1) if _DATE_LIKE.search(lines[i].text.replace(" ", ""))), None)
    if date_index is None:
        # No readable date: the top line under the photo is still the issuing city.
        letters = [line for line in lines if sum(ch.isalpha() for ch in line.text) >= 3]
        if letters:
            fields["issue_city"] = letters[0]
        return
    fields["issue_date"] = lines[date_index]
    if date_index > 0:
        fields["issue_city"] = lines[date_index - 1]
