"""Talk to a stack's data (local or deployed): upload images, read job records, wait for them.

Safe on a real table: lists come from Query on the `by-status` GSI (partition `status`, sort
`updated_at`, non-personal projection), never from a Scan; full records (with fields) are read by
GetItem, only for the few jobs shown.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ktp_pipeline.dynamo_values import from_item  # the layer's one item → plain Python conversion
from ktp_pipeline.reference_ids import reference_id_for  # the pipeline's own derivation: follow what we upload
from ktp_pipeline.table_indexes import BY_STATUS_INDEX

from local.aws_clients import client
from local.cli import STATUS_CHOICES
from local.state import StackInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
TERMINAL = frozenset({"COMPLETED", "FAILED", "REJECTED", "TIMED_OUT"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
STATUSES = STATUS_CHOICES  # ktp_pipeline.models.JobStatus (a unit test compares), without importing pydantic
PAGE_SIZE = 100


class AmbiguousPrefix(LookupError):
    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix, self.matches = prefix, matches
        super().__init__(f"{prefix} matches {len(matches)} jobs")


@dataclass(frozen=True)
class Upload:
    source: str
    key: str
    reference_id: str


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given plus the images inside given directories (sorted, not recursive into hidden)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return found


class JobsClient:
    """Clients are made on first use: `ktp status` never uploads, so it never builds an S3 client."""

    def __init__(self, info: StackInfo) -> None:
        self.info = info

    @cached_property
    def s3(self) -> Any:
        return client("s3", self.info.endpoint_url, self.info.region)

    @cached_property
    def _dynamodb(self) -> Any:
        # The low-level client, not a boto3 resource: a resource loads a second model (~0.1 s a process).
        return client("dynamodb", self.info.endpoint_url, self.info.region)

    # --- uploads --------------------------------------------------------------------------
    def key_for(self, name: str) -> str:
        return f"{self.info.upload_prefix}{name}"

    def upload_bytes(self, data: bytes, name: str, *, content_type: str | None = None) -> Upload:
        key = self.key_for(name)
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        answer = self.s3.put_object(Bucket=self.info.bucket, Key=key, Body=data, ContentType=content_type)
        reference_id = reference_id_for(self.info.bucket, key, answer.get("VersionId"), answer.get("ETag"))
        return Upload(name, key, reference_id)

    def upload_file(self, path: Path, name: str | None = None) -> Upload:
        upload = self.upload_bytes(path.read_bytes(), name or path.name)
        return Upload(str(path), upload.key, upload.reference_id)

    # --- records --------------------------------------------------------------------------
    def get(self, reference_id: str) -> dict[str, Any] | None:
        item = self._dynamodb.get_item(TableName=self.info.table, Key={"reference_id": {"S": reference_id}},
                                       ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def index_entries(self, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The `by-status` index entries (non-personal attributes only), newest first by
        ``updated_at``. Each status is one Query partition, read newest first and paginated; with a
        ``limit`` at most that many are read per status, then the statuses are merged and the
        limit is applied after ordering."""
        entries: list[dict[str, Any]] = []
        for one in ([status] if status else STATUSES):
            entries.extend(self._query_status(one, limit))
        entries.sort(key=lambda item: str(item.get("updated_at") or ""), reverse=True)
        return entries if limit is None else entries[:limit]

    def _query_status(self, status: str, limit: int | None, *, id_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        """One status partition of the index, newest first; with ``id_prefix`` only the ids that start with it."""
        kwargs: dict[str, Any] = {"TableName": self.info.table, "IndexName": BY_STATUS_INDEX,
                                  "KeyConditionExpression": "#status = :status", "ExpressionAttributeNames": {"#status": "status"},
                                  "ExpressionAttributeValues": {":status": {"S": status}}, "ScanIndexForward": False}
        if id_prefix is not None:
            kwargs["ProjectionExpression"] = "reference_id"
            kwargs["FilterExpression"] = "begins_with(reference_id, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = {"S": id_prefix}
        read = 0
        while True:
            page_size = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit - read))
            page = self._dynamodb.query(Limit=page_size, **kwargs)
            for item in page.get("Items", []):
                yield from_item(item)
                read += 1
                if limit is not None and read >= limit:
                    return
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def recent(self, status: str | None = None, limit: int | None = None,
               seen: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Full records of the newest jobs (GetItem each, after the index chose them). ``seen``
        (reference_id → record, kept by the caller between refreshes) spares the GetItem of a job
        whose ``updated_at`` has not changed since."""
        records = []
        for entry in self.index_entries(status, limit):
            reference_id = str(entry["reference_id"])
            known = (seen or {}).get(reference_id)
            record = known if known and known.get("updated_at") == entry.get("updated_at") else self.get(reference_id)
            records.append(record if record is not None else entry)  # erased or expired meanwhile
        if seen is not None:
            seen.clear()
            seen.update((str(record["reference_id"]), record) for record in records)
        return records

    def find(self, reference_id_or_prefix: str) -> dict[str, Any] | None:
        """The record of an id or of a unique prefix of one; None when nothing matches. The prefix
        search reads only the index's keys (ProjectionExpression), never the table's personal data."""
        record = self.get(reference_id_or_prefix)
        if record is not None:
            return record
        matches: list[str] = []
        for status in STATUSES:
            entries = self._query_status(status, None, id_prefix=reference_id_or_prefix)
            matches.extend(str(entry["reference_id"]) for entry in entries)
        matches = sorted(set(matches))
        if len(matches) > 1:
            raise AmbiguousPrefix(reference_id_or_prefix, matches)
        return self.get(matches[0]) if matches else None

    def wait_terminal(
        self,
        reference_ids: Iterable[str],
        *,
        timeout_seconds: float,
        interval_seconds: float = 0.5,
        on_progress: Callable[[dict[str, dict[str, Any] | None]], None] | None = None,
    ) -> dict[str, dict[str, Any] | None]:
        """Poll until every job is terminal or the timeout passes; returns the last records seen."""
        wanted = list(dict.fromkeys(reference_ids))
        records: dict[str, dict[str, Any] | None] = {ref: None for ref in wanted}
        deadline = time.monotonic() + timeout_seconds
        while True:
            for ref in wanted:
                record = records[ref]
                if record is None or record.get("status") not in TERMINAL:
                    records[ref] = self.get(ref)
            if on_progress is not None:
                on_progress(records)
            if all(record and record.get("status") in TERMINAL for record in records.values()):
                return records
            if time.monotonic() >= deadline:
                return records
            time.sleep(interval_seconds)
