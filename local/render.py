"""Tables for job records. NIKs are masked unless asked otherwise: a terminal is often shared,
recorded or screenshotted.

Every command shows records through :func:`mask_record` (tables, details, ``--json``): it masks any
16-digit run, and the record's own NIK wherever it appears, in every nested string (fields, raw
text, extras, object keys), not only ``result.fields.nik``; the record's own ids and digests
(``IDENTIFIERS``) are left as they are.

Why not Powertools Data Masking (``DataMasking().erase``): without ``fields`` it walks the whole
record but turns every number and boolean into a string and every null into ``"*****"``, which
corrupts ``--json``; with ``fields`` it needs JSONPaths known in advance, and jsonpath-ng's filters
(``[?(@ =~ ...)]``) match list elements only, not dict values, so "any nested string that holds a
NIK" under unknown ``extra`` keys cannot be addressed. (jsonpath-ng is also only present here
through moto[server]; Powertools' ``datamasking`` extra would add aws-encryption-sdk.) What is left
is one regex substitution per string, written below.
"""

from __future__ import annotations

import re

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "COMPLETED": "green",
    "FAILED": "red",
    "REJECTED": "red",
    "TIMED_OUT": "magenta",
    "RETRY": "yellow",
    "SUBMITTED": "cyan",
    "RECEIVED": "blue",
}


def mask_nik(nik: str | None, *, show: bool = False) -> str:
    """``3171234567890001`` → ``317123******0001``: region code and serial stay readable, the
    birth-date digits (the personal part) are hidden."""
    if not nik:
        return ""
    if show:
        return nik
    if len(nik) <= 10:
        return "*" * len(nik)
    return nik[:6] + "*" * (len(nik) - 10) + nik[-4:]


# A NIK is 16 digits; not part of a longer digit run (a timestamp in ms, an ETag is hex anyway).
NIK_PATTERN = re.compile(r"(?<!\d)\d{16}(?!\d)")


def mask_text(text: str, *, known: tuple[str, ...] = ()) -> str:
    """``text`` with every NIK in it masked (16-digit runs and the ``known`` NIK values)."""
    for nik in known:
        if nik and nik in text:
            text = text.replace(nik, mask_nik(nik))
    return NIK_PATTERN.sub(lambda match: mask_nik(match.group()), text)


# A job record's own identifiers: digests and ids, never personal data, and needed verbatim (a table's
# id is typed back into `ktp status`). A 40-hex-digit id holds a run of exactly 16 decimal digits
# about once in 500 (0.2 % of 200,000 random ids; the demo met `ktp-7ea292cd6472921915295163da…`),
# which the NIK pattern would mask.
IDENTIFIERS = frozenset({"reference_id", "predecessor_id", "successor_id", "erasure_id", "nik_hash",
                         "object_etag", "object_version_id", "object_sequencer"})


def mask_record(record: Any, *, show_nik: bool = False) -> Any:
    """A copy of ``record`` with the NIK masked in every nested string (and dict key) but its
    top-level ``IDENTIFIERS``; numbers, booleans and nulls stay as they are. ``show_nik`` returns
    the record itself."""
    if show_nik or record is None:
        return record
    nik = fields_of(record).get("nik") if isinstance(record, dict) else None
    known = (str(nik),) if nik and len(str(nik)) > 4 else ()

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return mask_text(value, known=known)
        if isinstance(value, dict):
            return {walk(key): walk(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item) for item in value]
        return value

    if isinstance(record, dict):
        return {key: value if key in IDENTIFIERS else walk(value) for key, value in record.items()}
    return walk(record)


def fields_of(record: dict[str, Any]) -> dict[str, str]:
    result = record.get("result") or {}
    fields = result.get("fields") if isinstance(result, dict) else None
    return fields if isinstance(fields, dict) else {}


MIN_PREFIX = 20  # "ktp-" + 16 hex digits: what a table shows of an id, more when shown rows share it


def unique_prefixes(reference_ids: Iterable[str], *, minimum: int = MIN_PREFIX) -> dict[str, str]:
    """Id → its shortest prefix (at least ``minimum`` characters) that no other given id starts
    with; `ktp status` takes any unique prefix, so a table cell stays usable as a command argument."""
    ids = sorted(set(reference_ids))
    shown: dict[str, str] = {}
    for index, ref in enumerate(ids):
        length = minimum
        for other in (ids[index - 1] if index else "", ids[index + 1] if index + 1 < len(ids) else ""):
            common = len(_common_prefix(ref, other)) if other else 0
            length = max(length, common + 1)
        shown[ref] = ref[:length]
    return shown


def _common_prefix(a: str, b: str) -> str:
    length = 0
    while length < min(len(a), len(b)) and a[length] == b[length]:
        length += 1
    return a[:length]


def object_name(record: dict[str, Any]) -> str:
    key = str(record.get("object_key") or "")
    return key.rsplit("/", 1)[-1] if key else ("(orphan callback)" if record.get("orphan_callback") else "")


def status_text(status: str | None) -> Text:
    return Text(status or "?", style=STATUS_STYLES.get(status or "", ""))


def results_table(records: Iterable[dict[str, Any]], *, show_nik: bool = False, title: str | None = None) -> Table:
    table = Table(title=title, expand=False, header_style="bold")
    table.add_column("reference_id", no_wrap=True)
    table.add_column("object", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("code", no_wrap=True)
    table.add_column("NIK", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("via", no_wrap=True)
    records = [mask_record(record, show_nik=show_nik) for record in records]
    prefixes = unique_prefixes(str(record.get("reference_id", "")) for record in records)
    for record in records:
        fields = fields_of(record)
        table.add_row(
            prefixes.get(str(record.get("reference_id", "")), ""),
            object_name(record),
            status_text(record.get("status")),
            str(record.get("error_code") or ""),
            str(fields.get("nik") or ""),
            str(fields.get("full_name", "")),
            str(record.get("result_source") or ""),
        )
    return table


def status_counts(records: Iterable[dict[str, Any] | None]) -> Counter[str]:
    return Counter((record or {}).get("status") or "WAITING" for record in records)


def counts_line(counts: Counter[str]) -> Text:
    text = Text()
    for index, (status, count) in enumerate(sorted(counts.items())):
        if index:
            text.append("  ")
        text.append(f"{status} {count}", style=STATUS_STYLES.get(status, "dim"))
    return text


def record_detail(record: dict[str, Any], *, show_nik: bool = False) -> Group:
    """One job: its lifecycle attributes, then every extracted field."""
    record = mask_record(record, show_nik=show_nik)
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    for name in ("reference_id", "status", "status_reason", "error_code", "object_key", "created_at",
                 "submitted_at", "completed_at", "submit_attempts", "poll_count", "result_source", "orphan_callback"):
        value = record.get(name)
        if value not in (None, "", False):
            overview.add_row(name, status_text(value) if name == "status" else str(value))
    fields = fields_of(record)
    if not fields:
        return Group(overview)
    extracted = Table(title="extracted fields", header_style="bold")
    extracted.add_column("field")
    extracted.add_column("value", overflow="fold")
    for name, value in fields.items():
        extracted.add_row(name, str(value))
    quality = (record.get("result") or {}).get("image_quality") or {}
    if quality:
        flags = ", ".join(f"{name}={value}" for name, value in quality.items())
        extracted.caption = f"image quality: {flags}"
    return Group(overview, extracted)


def redact(record: dict[str, Any], *, show_nik: bool) -> dict[str, Any]:
    """A copy for ``--json`` output with the NIK masked everywhere unless ``show_nik``."""
    return mask_record(record, show_nik=show_nik)
