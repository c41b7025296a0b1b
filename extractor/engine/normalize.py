"""Turn raw row texts into contract values: repair, reformat, snap to vocabularies, score."""

from __future__ import annotations

import re
import unicodedata

from extractor.engine import vocabulary as vocab
from extractor.engine.fuzzy import Snap, allowed_edits, levenshtein, snap, squash
from extractor.engine.layout import RawField
from extractor.engine.nik import repair_nik
from extractor.engine.regions import snap_bare_city, snap_city, snap_district, snap_state, snap_village
from extractor.result import FieldReading

_DIGITISH = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "L": "1",
                           "Z": "2", "S": "5", "G": "6", "b": "6", "B": "8", "T": "7"})


# A digit inside a word of letters is a misread letter; a word of digits (`20 ILIR`) stays digits.
_LETTERISH = str.maketrans({"1": "I", "0": "O", "5": "S", "8": "B", "6": "G", "2": "Z", "4": "A"})
# Shapes the recogniser confuses: the only differences a register form may repair in a printed
# place name (one group per family of look-alikes).
_CONFUSABLE = ("IL1JT", "ODQC0G", "UV", "MNH", "EF", "PR", "B8", "S5", "Z2", "KX")


def _case_confusions(text: str) -> str:
    """``l`` and ``I`` look alike in sans faces: decide from the case of the text around them.

    In upper-case text a lower-case ``l`` is an ``I``. In mixed-case text (`Jl. Melati`) an ``I``
    after a lower-case letter, or closing a two-letter word after a capital (`JI.`), is an ``l``.
    """
    if not any(ch.islower() for ch in text.replace("l", "")):
        return text.replace("l", "I").replace("|", "I")
    text = re.sub(r"(?<=[a-z])I", "l", text)
    text = re.sub(r"\b([A-Z])I\b(?=\.|\s|$)", r"\1l", text)
    return text.replace("|", "I")


# The recogniser's models also read Chinese, so a period or comma may come back as a CJK or
# full-width sign; a KTP prints none of them. NFKC folds the full-width forms (`：`, `，`, `．`).
_CJK_PUNCTUATION = str.maketrans({"、": ",", "。": ".", "〃": '"'})


def latin_punctuation(text: str) -> str:
    """Full-width and CJK punctuation read for the card's own (`JL、BATU` → `JL,BATU`), and an
    accented Latin letter for its plain one (`JALÁN` → `JALAN`): a KTP prints A-Z only."""
    text = unicodedata.normalize("NFKC", text).translate(_CJK_PUNCTUATION)
    if text.isascii():
        return text
    return "".join(_plain_letter(ch) for ch in text)


def _plain_letter(ch: str) -> str:
    """The ASCII letter under ``ch``'s accents, or ``ch`` when it is no accented Latin letter."""
    base = unicodedata.normalize("NFKD", ch)
    if len(base) > 1 and base[0].isascii() and base[0].isalpha() and all(unicodedata.combining(c) for c in base[1:]):
        return base[0]
    return ch


def _clean_text(text: str) -> str:
    text = _case_confusions(text).upper().replace("：", ":")
    text = re.sub(r"\s+", " ", text)
    return text.strip(" :;.,_|-'\"")


def _letters_in_words(text: str) -> str:
    """Digits inside words that hold letters become the letters they were misread for."""
    return re.sub(r"\S+", lambda m: m.group(0).translate(_LETTERISH) if re.search(r"[A-Z]", m.group(0)) else m.group(0), text)


def _confusable(a: str, b: str) -> bool:
    return any(a in group and b in group for group in _CONFUSABLE)


def repair_from_register(printed: str, listed: str) -> str | None:
    """``printed`` with the letters where ``listed`` differs by a look-alike replaced, or None.

    Only same-position substitutions between confusable shapes count; the printed spaces,
    punctuation and digit words stay as they are. None when anything else differs (another
    spelling, a renamed place, a numeral written out): the printed text then wins as it is.
    """
    positions = [i for i, ch in enumerate(printed) if ch.isalnum()]
    letters = [ch for ch in listed if ch.isalnum()]
    if len(positions) != len(letters):
        return None
    out = list(printed)
    changes = 0
    for i, want in zip(positions, letters):
        have = printed[i]
        if have == want:
            continue
        if not _confusable(have, want):
            return None
        out[i] = want
        changes += 1
    if changes > allowed_edits(len(letters)):
        return None
    return "".join(out)


def _with_register(reading: FieldReading, listed: str | None) -> FieldReading:
    """The reading with the register's form beside it; the value repaired only where it allows."""
    if not listed or not reading.value:
        return reading
    repaired = repair_from_register(reading.value, listed)
    update = {"canonical": listed, "snapped": True}
    if repaired is not None:
        update["value"] = repaired
    else:
        # The register knows this place under another form: the printed text is unconfirmed.
        update["confidence"] = round(min(reading.confidence, 0.6 * reading.confidence + 0.2), 4)
    return reading.model_copy(update=update)


def _reading(value: str | None, raw: RawField | None, factor: float = 1.0, canonical: str | None = None) -> FieldReading:
    """``canonical``: the vocabulary form that matched (marks the reading ``snapped``)."""
    snapped = {"canonical": canonical, "snapped": True} if canonical and value else {}
    if raw is None:
        return FieldReading(value=value, raw=None, confidence=0.0, **snapped)
    confidence = max(0.0, min(1.0, raw.confidence * factor)) if value else 0.0
    return FieldReading(value=value or None, raw=raw.text, confidence=round(confidence, 4), **snapped)


def _snap_factor(result: Snap | None, length: int) -> float:
    if result is None:
        return 0.5
    return max(0.3, 1.0 - result.distance / max(4, length))


def normalize_date(text: str) -> str | None:
    """`DD-MM-YYYY` from OCR text such as `17-08-1990`, `17 -08-1990`, `17.08.1990`, `17081990`."""
    # Junk before the date (a colon read as "1:") must not shift the day-month-year split.
    found = re.search(r"(\d{1,2})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{4})\s*$", text.translate(_DIGITISH))
    if found:
        day, month, year = found.groups()
        return f"{int(day):02d}-{int(month):02d}-{year}"
    digits = re.sub(r"[^0-9]", "", text.translate(_DIGITISH))
    parts = re.findall(r"\d+", text.translate(_DIGITISH))
    if len(parts) == 3 and len(parts[2]) == 4 and len(parts[0]) <= 2 and len(parts[1]) <= 2:
        day, month, year = parts
        return f"{int(day):02d}-{int(month):02d}-{year}"
    if len(digits) == 8:
        return f"{digits[:2]}-{digits[2:4]}-{digits[4:]}"
    return None


def normalize_nik(raw: RawField | None) -> FieldReading:
    if raw is None:
        return _reading(None, None)
    text = raw.text
    nik = repair_nik(text)
    factor = 1.0 if len(nik) == 16 else 0.4
    if len(nik) > 16:
        nik = nik[:16]
    return _reading(nik, raw, factor)


def normalize_name(text: str) -> str:
    text = _letters_in_words(_clean_text(text))
    text = re.sub(r"[^A-Z0-9 .,'-]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def split_birth(raw: RawField | None) -> tuple[FieldReading, FieldReading]:
    if raw is None:
        return _reading(None, None), _reading(None, None)
    text = raw.text.replace("：", ":")
    date_match = re.search(r"[0-9OIlDSBZ|]{1,2}\s*[-./ ]\s*[0-9OIlDSBZ|]{1,2}\s*[-./ ]\s*[0-9OIlDSBZ|]{4}\s*$", text)
    if date_match is None:
        date_match = re.search(r"[0-9]{8}\s*$", text)
    if date_match:
        place_text, date_text = text[: date_match.start()], date_match.group(0)
    elif "," in text:
        place_text, date_text = text.rsplit(",", 1)
    else:
        place_text, date_text = text, ""
    place = normalize_name(place_text.rstrip(" ,."))
    date = normalize_date(date_text)
    place_raw = RawField(place_text, raw.confidence, raw.pieces)
    date_raw = RawField(date_text, raw.confidence, raw.pieces)
    return _reading(place, place_raw), _reading(date, date_raw, 1.0 if date else 0.0)


_TRAILING_DATE = re.compile(r"\s+\S*\d{1,2}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{2,4}\S*$")


def _prefix_choice(text: str, choices) -> str | None:
    """A truncated reading ("KRIS", "PEREM") that starts exactly one choice."""
    key = squash(text)
    if len(key) < 3:
        return None
    mapping = choices if isinstance(choices, dict) else {c: c for c in choices}
    hits = {canonical for variant, canonical in mapping.items() if squash(variant).startswith(key)}
    return hits.pop() if len(hits) == 1 else None


def normalize_choice(raw: RawField | None, choices, fallback_clean: bool = True) -> FieldReading:
    if raw is None:
        return _reading(None, None)
    text = _clean_text(raw.text)
    # The issue date under the photo sometimes lands on the same line as a value.
    for candidate in (text, _TRAILING_DATE.sub("", text)):
        result = snap(candidate, choices)
        if result:
            return _reading(result.value, raw, _snap_factor(result, len(squash(candidate))), result.value)
    prefixed = _prefix_choice(text, choices)
    if prefixed:
        return _reading(prefixed, raw, 0.5, prefixed)
    return _reading(text if fallback_clean and text else None, raw, 0.4)


def normalize_gender(raw: RawField | None) -> FieldReading:
    """Two values only: take the nearer one when the reading is at least half right."""
    reading = normalize_choice(raw, vocab.GENDERS, fallback_clean=False)
    if reading.value or raw is None:
        return reading
    key = squash(_clean_text(raw.text))
    if len(key) < 3:
        return reading
    distances = {g: levenshtein(key, squash(g)) for g in vocab.GENDERS}
    best = min(distances, key=distances.get)
    if distances[best] <= len(squash(best)) // 2 and distances[best] < min(v for g, v in distances.items() if g != best):
        return _reading(best, raw, 0.4, best)
    return reading


def normalize_blood(raw: RawField | None) -> FieldReading:
    if raw is None:
        return _reading(None, None)
    text = raw.text.upper().replace(" ", "").replace("0", "O").strip(":：;.,")
    match = re.fullmatch(r"(AB|A|B|O)([+-])?", text)
    if match:
        return _reading(match.group(1) + (match.group(2) or ""), raw)
    if text in ("-", "—", "_", "–", ""):
        return _reading("-", raw, 0.9 if text else 0.5)
    letters = re.sub(r"[^ABO8+-]", "", text.replace("8", "B"))
    match = re.match(r"(AB|A|B|O)([+-])?", letters)
    if match:
        return _reading(match.group(1) + (match.group(2) or ""), raw, 0.6)
    return _reading(None, raw)


def normalize_rt_rw(raw: RawField | None) -> FieldReading:
    if raw is None:
        return _reading(None, None)
    text = raw.text.translate(_DIGITISH)
    parts = re.findall(r"\d+", text)
    if len(parts) == 2 and all(len(p) <= 3 for p in parts):
        return _reading(f"{int(parts[0]):03d}/{int(parts[1]):03d}", raw)
    digits = "".join(parts)
    if len(digits) == 6:
        return _reading(f"{digits[:3]}/{digits[3:]}", raw, 0.8)
    if len(digits) == 7 and digits[3] in "17":  # the slash read as 1 or 7
        return _reading(f"{digits[:3]}/{digits[4:]}", raw, 0.6)
    return _reading(None, raw)


def normalize_address(text: str) -> str:
    """The address as printed; a comma, colon or semicolon read for an abbreviation's period
    (`GG, SULTAN`, `GG: SUKAJADI`) is repaired.

    Spaces come from the image (spacing.py), never from here: `NO 100` and `NO. 100` are both
    printed forms.
    """
    text = _clean_text(text)
    text = re.sub(r"\b(GG|JL|JLN|KP|KOMP|NO)\s*[,:;]", r"\1.", text)
    return re.sub(r"\s+", " ", text).strip()


def normalize_place(raw: RawField | None, snapper=None, **context) -> FieldReading:
    """A place as printed; the register's form beside it when one matches (see ``_with_register``)."""
    if raw is None:
        return _reading(None, None)
    text = normalize_name(raw.text)
    reading = _reading(text, raw, 0.9)
    if snapper is not None and text:
        snapped = snapper(text, **context)
        if snapped is not None:
            value, distance = snapped
            reading = _reading(text, raw, max(0.5, 1.0 - distance / max(4, len(text))))
            return _with_register(reading, value)
    return reading


def normalize_state(raw: RawField | None) -> FieldReading:
    if raw is None:
        return _reading(None, None)
    text = normalize_name(raw.text)
    candidates = [re.sub(r"^PR[O0]P?[IV1L]+NS[I1L]\s*", "", text)]
    # A misread or glued `PROVINSI` ("PRUVINSI", "PROVINS IKALIMANTAN"): cut it off the squashed text.
    key = squash(text)
    for cut in (7, 8, 9):
        if levenshtein(key[:cut], "PROVINSI", 2) <= 2:
            candidates.append(key[cut:])
    best = None
    for candidate in candidates:
        snapped = snap_state(candidate) if candidate else None
        if snapped is not None and (best is None or snapped[1] < best[1]):
            best = snapped
    if best is not None:
        # The 38 provinces are a closed vocabulary: the listed name is what the card prints.
        value, distance = best
        return _reading(value, raw, max(0.5, 1.0 - distance / max(4, len(value))), value)
    return _reading(candidates[0], raw, 0.9)


def _issue_city_from_card_city(issue: FieldReading, city: str | None) -> FieldReading:
    """The issuing office is normally the card's own regency/city: repair a damaged reading of it."""
    if not issue.value or not city:
        return issue
    bare = re.sub(r"^(KABUPATEN|KOTA)( ADMINISTRASI)? ", "", city)
    key, target = squash(issue.value), squash(bare)
    if key == target:
        return issue
    close = levenshtein(key, target, allowed_edits(len(target))) <= allowed_edits(len(target))
    tail = len(key) >= 5 and target.endswith(key)  # the start was cut off ("AWE UTARA")
    if close or tail:
        return _with_register(issue.model_copy(update={"confidence": round(issue.confidence * 0.8, 4)}), bare)
    return issue


def normalize_fields(raw: dict[str, RawField]) -> dict[str, FieldReading]:
    fields: dict[str, FieldReading] = {}
    fields["nik"] = normalize_nik(raw.get("nik"))
    name = raw.get("full_name")
    fields["full_name"] = _reading(normalize_name(name.text), name) if name else _reading(None, None)
    fields["place_of_birth"], fields["date_of_birth"] = split_birth(raw.get("birth"))
    if fields["place_of_birth"].value:
        bare = snap_bare_city(fields["place_of_birth"].value, fuzzy=True)
        if bare:
            fields["place_of_birth"] = _with_register(fields["place_of_birth"], bare[0])
    fields["gender"] = normalize_gender(raw.get("gender"))
    fields["blood_type"] = normalize_blood(raw.get("blood_type"))
    address = raw.get("address")
    fields["address"] = _reading(normalize_address(address.text), address) if address else _reading(None, None)
    fields["rt_rw"] = normalize_rt_rw(raw.get("rt_rw"))
    fields["state"] = normalize_state(raw.get("state"))
    fields["city"] = normalize_place(raw.get("city"), snap_city, state=fields["state"].value)
    fields["district"] = normalize_place(raw.get("district"), snap_district, city=fields["city"].value, state=fields["state"].value)
    fields["administrative_village"] = normalize_place(
        raw.get("administrative_village"), snap_village, district=fields["district"].value, city=fields["city"].value, state=fields["state"].value
    )
    fields["religion"] = normalize_choice(raw.get("religion"), vocab.RELIGIONS, fallback_clean=False)
    fields["marital_status"] = normalize_choice(raw.get("marital_status"), vocab.MARITAL_STATUSES, fallback_clean=False)
    fields["occupation"] = normalize_choice(raw.get("occupation"), vocab.OCCUPATIONS)
    fields["nationality"] = normalize_choice(raw.get("nationality"), vocab.NATIONALITIES)
    valid = raw.get("valid_until")
    if valid is not None and normalize_date(valid.text):
        fields["valid_until"] = _reading(normalize_date(valid.text), valid)
    else:
        fields["valid_until"] = normalize_choice(valid, vocab.VALID_UNTIL)
    fields["issue_city"] = normalize_place(raw.get("issue_city"), snap_bare_city)
    fields["issue_city"] = _issue_city_from_card_city(fields["issue_city"], fields["city"].value)
    issue = raw.get("issue_date")
    issue_date = normalize_date(issue.text) if issue else None
    fields["issue_date"] = _reading(issue_date, issue, 1.0 if issue_date else 0.0)
    return fields
