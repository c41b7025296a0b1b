"""The benchmark's baseline: a plain label parser over one OCR pass, to measure our engine against.

What anyone would write first: read the whole image once with the OCR model, find each printed
label (NIK, Nama, Tempat/Tgl Lahir, ...) among the lines, and take the text after its colon or the
text to its right on the same row. The only help it gets is geometry: rows are levelled first (the
label column's tilt, then the label-to-value slope), so a rotated photo's rows still pair up. No
vocabulary snapping, no spacing recovery, no digit repair, no second reading, exact label spellings
only. It shares nothing with extractor/engine/ except the OCR backend, on purpose.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass

# Row labels as printed, squashed to letters; field names are the contract's.
LABELS: tuple[tuple[str, str], ...] = (
    ("NIK", "nik"),
    ("NAMA", "full_name"),
    ("TEMPATTGLLAHIR", "birth"),
    ("JENISKELAMIN", "gender"),
    ("GOLDARAH", "blood_type"),
    ("ALAMAT", "address"),
    ("RTRW", "rt_rw"),
    ("KELDESA", "administrative_village"),
    ("KECAMATAN", "district"),
    ("AGAMA", "religion"),
    ("STATUSPERKAWINAN", "marital_status"),
    ("PEKERJAAN", "occupation"),
    ("KEWARGANEGARAAN", "nationality"),
    ("BERLAKUHINGGA", "valid_until"),
)
WRAPPING = ("full_name", "address")  # the two values a card may print on two lines
MIN_LABELS_FOR_A_KTP = 3
_DATE = re.compile(r"\d{2}-\d{2}-\d{4}")


@dataclass(frozen=True)
class Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return max(1.0, self.y1 - self.y0)


def _letters(text: str) -> str:
    return "".join(ch for ch in text.upper() if "A" <= ch <= "Z")


def clean(text: str) -> str:
    """NFKC, upper case, whitespace collapsed: the same comparison form the bench uses for truth."""
    return " ".join(unicodedata.normalize("NFKC", text).upper().split())


def _label_at_start(text: str) -> tuple[str, int] | None:
    """The field whose label opens ``text`` and how many characters of ``text`` the label takes."""
    letters = 0
    squashed = ""
    for index, ch in enumerate(text.upper()):
        if "A" <= ch <= "Z":
            squashed += ch
            letters += 1
            for key, name in LABELS:
                if squashed == key:
                    # "Nama" must not swallow the value's first letters: the label ends at a word end.
                    rest = text[index + 1:]
                    if not rest or not rest[0].isalpha():
                        return name, index + 1
        elif ch not in " ./":
            break
        if letters > 16:
            break
    return None


def _value_after(text: str) -> str:
    return text.split(":", 1)[1] if ":" in text else text


def _deskewed(lines: list[Line]) -> list[Line]:
    """The lines in a frame where the left-aligned label column is vertical, so rows are horizontal.

    A photographed card is a little rotated; a row's value then sits higher or lower than its label.
    The labels' left edges give the tilt: x0 = a * y + b, and the rows run along (1, -a).
    """
    # Labels printed at the left margin (RT/RW, Kel/Desa, Kecamatan are indented, Gol. Darah sits mid-row).
    margin = ("nik", "full_name", "birth", "gender", "address", "religion", "marital_status", "occupation",
              "nationality", "valid_until")
    starts = [(line.x0, line.cy) for line in lines if (_label_at_start(line.text) or ("",))[0] in margin]
    if len(starts) < 3:
        return lines
    mean_x = sum(x for x, _ in starts) / len(starts)
    mean_y = sum(y for _, y in starts) / len(starts)
    spread = sum((y - mean_y) ** 2 for _, y in starts)
    if spread <= 0:
        return lines
    slope = sum((x - mean_x) * (y - mean_y) for x, y in starts) / spread
    slope = max(-0.3, min(0.3, slope))
    out = []
    for line in lines:
        cx = (line.x0 + line.x1) / 2
        cy = line.cy + slope * cx
        half = line.height / 2
        out.append(Line(line.text, line.x0 - slope * line.cy, cy - half, line.x1 - slope * line.cy, cy + half))
    return out


def _owner(box: Line, labels: list[Line]) -> Line | None:
    """The label whose row ``box`` is on: the nearest row, and on it the closest label to the left."""
    left = [label for label in labels if label.x1 <= box.x0 + 0.5 * box.height]
    if not left:
        return None
    nearest = min(abs(label.cy - box.cy) for label in left)
    if nearest > 0.6 * box.height:
        return None
    row = [label for label in left if abs(label.cy - box.cy) <= nearest + 0.25 * box.height]
    return max(row, key=lambda label: label.x1)


def _row_levelled(lines: list[Line]) -> list[Line]:
    """Level what tilt is left along the rows (perspective): the median slope from each label to the
    ``:``-led value nearest its row."""
    labels = [line for line in lines if _label_at_start(line.text)]
    slopes = []
    for label in labels:
        values = [o for o in lines if o.text.lstrip().startswith(":") and o.x0 > label.x1
                  and abs(o.cy - label.cy) < 1.2 * label.height]
        if values:
            value = min(values, key=lambda o: abs(o.cy - label.cy))
            slopes.append((value.cy - label.cy) / max(1.0, (value.x0 + value.x1) / 2 - (label.x0 + label.x1) / 2))
    if len(slopes) < 3:
        return lines
    slope = sorted(slopes)[len(slopes) // 2]
    return [Line(o.text, o.x0, o.y0 - slope * (o.x0 + o.x1) / 2, o.x1, o.y1 - slope * (o.x0 + o.x1) / 2)
            for o in lines]


def parse(lines: list[Line]) -> dict[str, str]:
    """Field values found among ``lines`` (absent fields are left out)."""
    lines = sorted(_row_levelled(_deskewed(lines)), key=lambda line: (line.cy, line.x0))
    found = {id(line): _label_at_start(line.text) for line in lines}
    labels = [line for line in lines if found[id(line)]]
    owned: dict[int, list[Line]] = {id(label): [] for label in labels}
    loose: list[Line] = []  # text that belongs to no label's row: headers, wrapped lines, the issue place
    headers = _header_lines(lines)
    for line in lines:
        if found[id(line)] or id(line) in headers:
            continue
        owner = _owner(line, labels)
        (owned[id(owner)] if owner else loose).append(line)
    out: dict[str, str] = {}
    for label in labels:
        name, end = found[id(label)]
        if name in out:
            continue
        value = _value_after(label.text[end:])
        right_edge = label.x1
        # The row's text left to right; the first piece may sit across the label column's gap,
        # later ones follow closely (a wide gap leads to the photo column's issue place).
        for other in sorted(owned[id(label)], key=lambda o: o.x0):
            if value.strip(" :") and other.x0 - right_edge > 4 * label.height:
                break
            value += " " + other.text
            right_edge = other.x1
        value = clean(value.lstrip(" :").replace(" :", "").lstrip(":"))
        if name == "gender" and "DARAH" in value:  # "LAKI-LAKI Gol. Darah : O" read as one line
            gender, _, blood = (re.split(r"(GOL\.? ?DARAH)", value, maxsplit=1) + ["", ""])[:3]
            value = gender.strip()
            if blood.strip(" :"):
                out.setdefault("blood_type", clean(blood.strip(" :")))
        if name in WRAPPING and value:
            # A second line straight below, on no label's row, continues the value.
            below = [o for o in loose if 0.6 * label.height < o.cy - label.cy < 1.8 * label.height
                     and label.x1 < o.x0 < right_edge]
            if below:
                value += " " + clean(min(below, key=lambda o: o.x0).text)
        if value:
            out[name] = value
    if "birth" in out:
        place, _, date = out.pop("birth").rpartition(",")
        if place:
            out["place_of_birth"] = clean(place)
        if date.strip():
            out["date_of_birth"] = clean(date).replace(" ", "")
    if "nik" in out:
        out["nik"] = "".join(ch for ch in out["nik"] if ch.isalnum())
    _headers(lines, out)
    _issue_place_and_date(lines, {id(label) for label in labels}, out)
    return out


def _header_lines(lines: list[Line]) -> set[int]:
    for index, line in enumerate(lines):
        if _letters(line.text).startswith("PROVINSI"):
            return {id(o) for o in lines[index:index + 2]}
    return set()


def _headers(lines: list[Line], out: dict[str, str]) -> None:
    """The two centred lines on top: PROVINSI <state>, then the regency or city."""
    for index, line in enumerate(lines):
        text = clean(line.text)
        if _letters(text).startswith("PROVINSI"):
            out["state"] = clean(text.split(None, 1)[1]) if " " in text else text[len("PROVINSI"):]
            if index + 1 < len(lines):
                out["city"] = clean(lines[index + 1].text)
            return


def _issue_place_and_date(lines: list[Line], label_lines: set[int], out: dict[str, str]) -> None:
    """Under the photo: the issuing place, then a date, both right of every label."""
    if not lines:
        return
    right = max(line.x1 for line in lines)
    left = min(line.x0 for line in lines)
    for index, line in enumerate(lines):
        text = clean(line.text)
        if id(line) in label_lines or line.x0 < left + 0.6 * (right - left) or not _DATE.fullmatch(text):
            continue
        out["issue_date"] = text
        above = [o for o in lines[:index] if o.x0 >= left + 0.55 * (right - left) and 0 < line.cy - o.cy < 2 * line.height]
        if above:
            out["issue_city"] = clean(above[-1].text)
        return


@dataclass
class BaselineReading:
    fields: dict[str, str]
    detected: bool
    seconds: float


class Baseline:
    """One whole-image OCR pass with ``model`` (an extractor.engine.backends backend), then ``parse``."""

    def __init__(self, model) -> None:
        self.model = model
        self.name = f"baseline ({model.name})"

    def warm_up(self) -> None:
        self.model.load()

    def read(self, image: bytes) -> BaselineReading:
        started = time.perf_counter()
        boxes = self.model.read(image)
        lines = [Line(unicodedata.normalize("NFKC", b.text), b.x0, b.y0, b.x1, b.y1) for b in boxes]
        fields = parse(lines)
        labels = sum(1 for line in lines if _label_at_start(line.text))
        return BaselineReading(fields, labels >= MIN_LABELS_FOR_A_KTP, time.perf_counter() - started)
