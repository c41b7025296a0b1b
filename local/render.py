"""Tables for job records. NIKs are masked unless asked otherwise: a terminal is often shared,
recorded or screenshotted."""

from __future__ import annotations

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


def fields_of(record: dict[str, Any]) -> dict[str, str]:
    result = record.get("result") or {}
    fields = result.get("fields") if isinstance(result, dict) else None
    return fields if isinstance(fields, dict) else {}


def short_reference(reference_id: str) -> str:
    return reference_id if len(reference_id) <= 14 else reference_id[:13] + "…"


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
    for record in records:
        fields = fields_of(record)
        table.add_row(
            short_reference(str(record.get("reference_id", ""))),
            object_name(record),
            status_text(record.get("status")),
            str(record.get("error_code") or ""),
            mask_nik(fields.get("nik"), show=show_nik),
            fields.get("full_name", ""),
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
        extracted.add_row(name, mask_nik(value, show=show_nik) if name == "nik" else str(value))
    quality = (record.get("result") or {}).get("image_quality") or {}
    if quality:
        flags = ", ".join(f"{name}={value}" for name, value in quality.items())
        extracted.caption = f"image quality: {flags}"
    return Group(overview, extracted)


def redact(record: dict[str, Any], *, show_nik: bool) -> dict[str, Any]:
    """A copy for ``--json`` output with the NIK masked unless ``show_nik``."""
    if show_nik:
        return record
    copy = dict(record)
    result = copy.get("result")
    if isinstance(result, dict) and isinstance(result.get("fields"), dict) and result["fields"].get("nik"):
        copy["result"] = {**result, "fields": {**result["fields"], "nik": mask_nik(result["fields"]["nik"])}}
    return copy
