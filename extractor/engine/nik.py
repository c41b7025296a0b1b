"""NIK repair and the soft domain checks (never rejections: docs/provider-contract.md, "NIK")."""

from __future__ import annotations

import re
from datetime import date

from extractor.result import Check

# OCR confusions that are only safe to undo inside the NIK, where every character is a digit.
_NIK_CONFUSIONS = str.maketrans({
    "O": "0", "o": "0", "D": "0", "Q": "0", "U": "0",
    "I": "1", "l": "1", "|": "1", "i": "1", "L": "1", "!": "1", "J": "1",
    "Z": "2", "z": "2",
    "S": "5", "s": "5",
    "G": "6", "b": "6",
    "B": "8",
    "T": "7",
})

# Province codes of the current edition (Kepmendagri 2025) ...
CURRENT_PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "93", "94", "95", "96",
})
# ... and retired ones still found on genuine older NIKs (54: Timor Timur, registered before 1999).
RETIRED_PROVINCE_CODES = frozenset({"54"})


def repair_nik(raw: str) -> str:
    """Undo letter/digit confusions and drop separators; the result may still be invalid."""
    translated = raw.translate(_NIK_CONFUSIONS)
    return re.sub(r"[^0-9]", "", translated)


def nik_birth(nik: str) -> tuple[int, int, int, bool] | None:
    """(day, month, two-digit year, is_female) encoded in a 16-digit NIK, or None."""
    if not re.fullmatch(r"\d{16}", nik):
        return None
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    return (day - 40 if female else day), month, year, female


def _valid_day(day: int, month: int, year: int | None) -> bool:
    try:
        date(year if year is not None else 2000, month, day)  # 2000 is a leap year: 29-02 allowed
    except ValueError:
        return False
    return True


def check_structure(nik: str) -> Check:
    if not re.fullmatch(r"\d{16}", nik):
        return Check(name="nik_structure", ok=False, detail=f"expected 16 digits, got {len(nik)} characters")
    day, month, _, _ = nik_birth(nik)  # type: ignore[misc]
    raw_day = int(nik[6:8])
    problems = []
    if not (1 <= raw_day <= 31 or 41 <= raw_day <= 71):
        problems.append("day digits outside 01-31 / 41-71")
    elif not (1 <= month <= 12) or not _valid_day(day, month, None):
        problems.append("birth day/month not a calendar date")
    if nik[12:] == "0000":
        problems.append("serial 0000")
    if nik[2:4] == "00" or nik[4:6] == "00":
        problems.append("regency or district code 00")
    return Check(name="nik_structure", ok=not problems, detail="; ".join(problems) or "16 digits, valid date and serial")


def check_birth_date(nik: str, printed_dob: str | None) -> Check | None:
    """NIK date vs printed date of birth; the century comes from the printed four-digit year."""
    birth = nik_birth(nik)
    match = re.fullmatch(r"(\d{2})-(\d{2})-(\d{4})", printed_dob or "")
    if birth is None or match is None:
        return None
    day, month, yy, _ = birth
    p_day, p_month, p_year = (int(g) for g in match.groups())
    ok = (day, month, yy) == (p_day, p_month, p_year % 100)
    detail = "NIK date matches printed date" if ok else "NIK date differs from printed date (soft signal: NIKs keep their first date)"
    return Check(name="nik_birth_date", ok=ok, detail=detail)


def check_gender(nik: str, printed_gender: str | None) -> Check | None:
    birth = nik_birth(nik)
    if birth is None or printed_gender not in ("LAKI-LAKI", "PEREMPUAN"):
        return None
    female = birth[3]
    ok = female == (printed_gender == "PEREMPUAN")
    detail = "NIK day offset matches printed gender" if ok else "NIK day offset (+40 for women) disagrees with printed gender"
    return Check(name="nik_gender", ok=ok, detail=detail)


def check_province(nik: str) -> Check | None:
    if not re.fullmatch(r"\d{16}", nik):
        return None
    code = nik[:2]
    if code in CURRENT_PROVINCE_CODES:
        return Check(name="nik_province", ok=True, detail=f"province code {code} is current")
    if code in RETIRED_PROVINCE_CODES:
        return Check(name="nik_province", ok=True, detail=f"province code {code} is retired but was once valid")
    return Check(name="nik_province", ok=False, detail=f"province code {code} is unknown")


def nik_checks(nik: str | None, printed_dob: str | None, printed_gender: str | None) -> list[Check]:
    if not nik:
        return [Check(name="nik_structure", ok=False, detail="no NIK read")]
    checks = [check_structure(nik)]
    for extra in (check_birth_date(nik, printed_dob), check_gender(nik, printed_gender), check_province(nik)):
        if extra is not None:
            checks.append(extra)
    return checks
