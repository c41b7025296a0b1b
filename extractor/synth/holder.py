"""A random, internally consistent KTP holder: every printed value plus the NIK that matches it.

The NIK is built the way Dukcapil builds it: province, regency/city and district codes of the
region printed on the card, birth day (+40 for women), month, two-digit year, and a serial that is
never ``0000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from extractor.result import ALL_FIELDS
from extractor.synth import vocab
from extractor.synth.regions import Region, random_region

# The reference day ages and issue dates are counted from; fixed so output never depends on the clock.
_TODAY = date(2026, 1, 1)


@dataclass(frozen=True, slots=True)
class Holder:
    """What one synthetic card prints. ``fields`` is the ground truth, keyed like ``ALL_FIELDS``."""

    fields: dict[str, str]
    birth_date: date
    female: bool


def _pick(rng: np.random.Generator, values, weights=None) -> str:
    if weights is None:
        return values[int(rng.integers(len(values)))]
    p = np.asarray(weights, dtype=float)
    return values[int(rng.choice(len(values), p=p / p.sum()))]


@lru_cache(maxsize=1)
def _later_name_pool() -> tuple[str, ...]:
    return tuple(sorted(set(vocab.MALE_GIVEN + vocab.FEMALE_GIVEN + vocab.SECOND_NAMES + vocab.extra_names())))


def _full_name(rng: np.random.Generator, female: bool) -> str:
    given = vocab.FEMALE_GIVEN if female else vocab.MALE_GIVEN
    # 1 to 5 words: single-word names are common in Java, long ones must wrap to a second line.
    words = int(rng.choice([1, 2, 3, 4, 5], p=[0.1, 0.32, 0.28, 0.18, 0.12]))
    parts = [_pick(rng, given)]
    pool = _later_name_pool()
    while len(parts) < words:
        word = _pick(rng, pool)
        if word not in parts:
            parts.append(word)
    return " ".join(parts)


def _address(rng: np.random.Generator) -> str:
    prefix = _pick(rng, vocab.STREET_PREFIXES)
    street = _pick(rng, vocab.STREET_NAMES)
    style = rng.random()
    if prefix in ("KP.", "DUSUN"):
        return f"{prefix} {street}"
    if prefix in ("PERUM", "KOMP.") or style < 0.25:
        block = f"{chr(65 + int(rng.integers(8)))}{int(rng.integers(1, 20))}"
        # Long housing-estate addresses wrap to a second line on the card.
        suffix = _pick(rng, ("INDAH", "PERMAI", "ASRI", "RESIDENCE", "REGENCY"))
        estate = f"{street} {suffix}" if rng.random() < 0.5 else street
        return f"{prefix} {estate} BLOK {block} NO. {int(rng.integers(1, 99))}"
    if style < 0.4:
        # A lane off a named street: "JL. MERDEKA GG. MAWAR III NO. 12".
        lane = f"GG. {_pick(rng, vocab.STREET_NAMES)} {_pick(rng, ('I', 'II', 'III', 'IV', 'V'))}"
        return f"{prefix} {street} {lane} NO. {int(rng.integers(1, 250))}"
    if style < 0.6:
        return f"{prefix} {street} NO. {int(rng.integers(1, 250))}"
    return f"{prefix} {street}"


def _random_date(rng: np.random.Generator, start: date, end: date) -> date:
    return start + timedelta(days=int(rng.integers(0, max(1, (end - start).days))))


def _ddmmyyyy(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def build_nik(region: Region, birth: date, female: bool, serial: int) -> str:
    if not 1 <= serial <= 9999:
        raise ValueError("NIK serial must be 0001-9999")
    day = birth.day + (40 if female else 0)
    return (
        f"{region.province_code}{region.city_code}{region.district_code}"
        f"{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"
    )


# Jakarta cards print the city without a prefix; over-sample them so every batch has some.
_DKI_SHARE = 0.1


def random_holder(rng: np.random.Generator) -> Holder:
    region = random_region(rng, "31" if rng.random() < _DKI_SHARE else None)
    female = bool(rng.random() < 0.5)
    birth = _random_date(rng, date(1946, 1, 1), date(2008, 12, 31))
    place_region = random_region(rng) if rng.random() < 0.3 else region
    place_of_birth = place_region.city_short

    adult = _add_years(birth, 17)
    issue = _random_date(rng, max(adult, date(2011, 6, 1)), _TODAY)
    # Cards printed 2011-2016 could carry a date (the 5-year rule, renewed on the birthday).
    if issue.year <= 2016 and rng.random() < 0.5:
        valid_until = _ddmmyyyy(_add_years(birth, issue.year + 5 - birth.year))
    else:
        valid_until = vocab.LIFETIME_VALIDITY

    age = (_TODAY - birth).days // 365
    occupation = _pick(rng, vocab.OCCUPATIONS)
    if age < 22 and rng.random() < 0.6:
        occupation = "PELAJAR/MAHASISWA"
    marital = _pick(rng, vocab.MARITAL_STATUSES, vocab.MARITAL_STATUS_WEIGHTS)

    fields = {
        "nik": build_nik(region, birth, female, int(rng.integers(1, 10000))),
        "full_name": _full_name(rng, female),
        "place_of_birth": place_of_birth,
        "date_of_birth": _ddmmyyyy(birth),
        "gender": vocab.GENDERS[1] if female else vocab.GENDERS[0],
        "blood_type": _pick(rng, vocab.BLOOD_TYPES, vocab.BLOOD_TYPE_WEIGHTS),
        "address": _address(rng),
        "rt_rw": f"{int(rng.integers(1, 25)):03d}/{int(rng.integers(1, 30)):03d}",
        "administrative_village": region.village,
        "district": region.district,
        "city": region.city,
        "state": region.state,
        "religion": _pick(rng, vocab.RELIGIONS, vocab.RELIGION_WEIGHTS),
        "marital_status": marital,
        "occupation": occupation,
        "nationality": vocab.NATIONALITY,
        "valid_until": valid_until,
        "issue_city": region.city_short,
        "issue_date": _ddmmyyyy(issue),
    }
    assert tuple(fields) == ALL_FIELDS
    # Drawn last so every earlier value of a seed stays the same.
    _printed_variants(rng, fields)
    return Holder(fields=fields, birth_date=birth, female=female)


def _printed_variants(rng: np.random.Generator, fields: dict[str, str]) -> None:
    """Spellings real cards also print: a rhesus suffix, `KATHOLIK`, `BUDHA`, `KHONGHUCU`."""
    if fields["blood_type"] != "-" and rng.random() < vocab.RHESUS_SHARE:
        fields["blood_type"] += "+" if rng.random() < 0.9 else "-"
    variant = vocab.RELIGION_VARIANTS.get(fields["religion"])
    if variant and rng.random() < vocab.RELIGION_VARIANT_SHARE:
        fields["religion"] = variant
