"""What a provider says about its reading beyond the contract's fields, as documented attributes.

The contract has no place for per-field confidence, the card's validity (`Berlaku Hingga`), the
issuing city and date, or soft checks of the reading. Our extractor sends them in its one extra
object, `ktp_extractor` (docs/extractor-service.md); another provider may send them next to the
fields. `ExtractionResult.parse` keeps all of that verbatim under `extra`; `split_details` lifts
the values of a known shape out of it into their own keys of the job's `result` map
(docs/job-record.md), so an application reads `result.field_confidence["nik"]` instead of a
provider's private layout. A value of another shape stays in `extra`, untouched: nothing is lost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .models import EMPTY_MARKERS

# Nested objects of known providers that carry the details (ours first); the top level of `extra`
# (keys sent next to the fields) is looked at before them.
NESTED_SOURCES = ("ktp_extractor",)
# Text details: the provider's name is the attribute's name.
TEXT_DETAILS = ("valid_until", "issue_city", "issue_date")
# provider key → attribute in `result`
RENAMED = {"confidence": "field_confidence", "checks": "checks"}
DETAIL_NAMES: tuple[str, ...] = ("field_confidence", "checks", *TEXT_DETAILS)


def _confidence(value: Any) -> dict[str, float] | None:
    """{field: 0..1}, or None when any entry is not a finite number in range."""
    if not isinstance(value, Mapping) or not value:
        return None
    scores: dict[str, float] = {}
    for name, score in value.items():
        if not isinstance(name, str) or isinstance(score, bool) or not isinstance(score, (int, float)):
            return None
        if not math.isfinite(score) or not 0.0 <= score <= 1.0:
            return None
        scores[name] = score
    return scores


def _checks(value: Any) -> list[dict[str, Any]] | None:
    """[{name, ok, detail?}], or None when any entry has another shape."""
    if not isinstance(value, list) or not value:
        return None
    checks = []
    for check in value:
        if not isinstance(check, Mapping) or set(check) - {"name", "ok", "detail"}:
            return None
        if not isinstance(check.get("name"), str) or not isinstance(check.get("ok"), bool):
            return None
        if not isinstance(check.get("detail", ""), str):
            return None
        checks.append(dict(check))
    return checks


_PARSERS = {"confidence": _confidence, "checks": _checks}


def _take(source: dict[str, Any], details: dict[str, Any]) -> None:
    """Move what `source` holds in a known shape into `details` (a detail already found wins)."""
    for key, attribute in RENAMED.items():
        if key in source and attribute not in details and (parsed := _PARSERS[key](source[key])) is not None:
            details[attribute] = parsed
            del source[key]
    for name in TEXT_DETAILS:
        if name not in source or name in details:
            continue
        value = source[name]
        if value is None or (isinstance(value, str) and value.strip() in EMPTY_MARKERS):
            del source[name]  # "not read": absence says the same
        elif isinstance(value, str):
            details[name] = value.strip()
            del source[name]


def split_details(extra: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the details as `result` attributes, what stays in `extra`). `extra` itself is not changed."""
    rest = dict(extra)
    details: dict[str, Any] = {}
    _take(rest, details)
    for name in NESTED_SOURCES:
        if isinstance(rest.get(name), Mapping):
            nested = dict(rest[name])
            _take(nested, details)
            rest[name] = nested
    return details, rest
