"""What of a provider result goes into the job item, within DynamoDB's 400 KB item limit.

Everything the provider sent is kept when it fits, its details beyond the contract (confidence,
validity, issue place/date, checks) as attributes of their own (provider_details.py). When it does
not fit, what nobody relies on goes first (unknown keys, the message, text quality values, then
those details, largest first), each named under `result.dropped` with its size; the contract
fields are never cut. A result whose contract fields alone do not fit ends
the job FAILED with RESULT_TOO_LARGE: a write that fails on every attempt would keep it pending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .models import ExtractionResult, JobStatus
from .provider_details import DETAIL_NAMES, split_details
from .reasons import reason_for

RESULT_TOO_LARGE = "RESULT_TOO_LARGE"
# Unknown provider keys are kept, but not without bound, even when the item would fit.
MAX_EXTRA_BYTES = 32 * 1024
# Each provider detail (provider_details.py) too; a real one is well under 1 KiB.
MAX_DETAIL_BYTES = 4 * 1024
# DynamoDB refuses items over 400 KB. The rest of a job item (keys, timestamps, an object key of at
# most 1 KB) stays under 4 KB, so what comes from the provider gets this, with a wide margin.
MAX_RESULT_BYTES = 300 * 1024


def size_of(value: Any) -> int:
    """An upper bound of DynamoDB's size of `value`: its JSON in UTF-8, quotes and commas included."""
    return len(json.dumps(value, default=str, ensure_ascii=False).encode("utf-8"))


@dataclass(frozen=True)
class StoredResult:
    """The terminal write for one provider result (see JobStore.finish)."""

    status: JobStatus
    reason: str
    error_code: str | None = None
    result: dict[str, Any] | None = None
    status_code: str | None = None


def _result_map(result: ExtractionResult) -> dict[str, Any]:
    """Everything personal lives under one map attribute, so erasure is one REMOVE."""
    out: dict[str, Any] = {"fields": dict(result.fields)}
    if result.image_quality is not None:
        out["image_quality"] = dict(result.image_quality)
    details, extra = split_details(result.extra)  # confidence, validity, issue place/date, checks
    out.update(details)
    if extra:
        out["extra"] = extra
    if result.message:
        out["message"] = result.message
    return out


def _drop(kept: dict[str, Any], *path: str) -> None:
    parent = kept[path[0]] if len(path) == 2 else kept
    kept.setdefault("dropped", {})[".".join(path)] = size_of(parent.pop(path[-1]))


def _optional_parts(kept: dict[str, Any]) -> list[tuple[str, ...]]:
    """What may go when the item would not fit, in the order it goes (largest quality texts first)."""
    quality = kept.get("image_quality") or {}
    texts = sorted((k for k, v in quality.items() if isinstance(v, str)), key=lambda k: -len(quality[k]))
    details = sorted((name for name in DETAIL_NAMES if name in kept), key=lambda name: -size_of(kept[name]))
    return ([(name,) for name in ("extra", "message") if name in kept] + [("image_quality", k) for k in texts]
            + [(name,) for name in details])


def stored_result(result: ExtractionResult) -> StoredResult:
    """COMPLETED with the fields, or FAILED with the provider's code; never more than fits an item."""
    if result.state == "failed":
        status, code, reason = JobStatus.FAILED, result.error_code, reason_for(result.error_code)
        kept = _result_map(result) if (result.image_quality or result.fields or result.extra) else None
    else:
        status, code, reason = JobStatus.COMPLETED, None, "Extraction completed."
        kept = _result_map(result)
    if kept is not None:
        if "extra" in kept and size_of(kept["extra"]) > MAX_EXTRA_BYTES:
            _drop(kept, "extra")
        for name in [name for name in DETAIL_NAMES if name in kept and size_of(kept[name]) > MAX_DETAIL_BYTES]:
            _drop(kept, name)
        for part in _optional_parts(kept):
            if size_of([kept, result.status_code, code, reason]) <= MAX_RESULT_BYTES:
                break
            _drop(kept, *part)
    if size_of([kept, result.status_code, code, reason]) > MAX_RESULT_BYTES:
        return StoredResult(JobStatus.FAILED, reason_for(RESULT_TOO_LARGE), RESULT_TOO_LARGE)
    return StoredResult(status, reason, code, kept, result.status_code)
