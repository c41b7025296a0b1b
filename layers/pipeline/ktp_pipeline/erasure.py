"""Erasure of a person's data (UU PDP): by reference_id, or by NIK through its keyed hash.

For each job found (GetItem, or a Query on the sparse `by-nik-hash` GSI: never a Scan):

1. the uploaded image: every version of the object key that holds this job's content (its recorded
   version id or ETag) is deleted, and the key's delete markers once no version is left. Other
   content under the same key is another job, erased with that job;
2. the provider's copy: `DELETE /ktp/id/extract-async/result` (our extractor's extension); a
   provider without it (404/405) is counted, not an error;
3. the record: one UpdateItem REMOVEs every personal attribute (`result` holds fields, raw text,
   extras and quality; the object key and ETag can name or fingerprint the card) and the hash, and
   SETs `erased_at`/`erasure_id`. `status`, times, `error_code` stay, so the record still explains
   what happened, and a terminal item's status never changes (completion events are not re-sent).

A job that is not terminal yet is left alone and counted as `jobs_pending`: its result may still
arrive and would be written after the erasure. Erase it again once it has ended.

Then one non-personal erasure record is put in the jobs table under `erasure#<id>`: what kind of
request, when, and how many jobs, object versions and provider copies were removed, never the NIK,
its hash or the reference ids (each erased job points to it through `erasure_id`).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .dynamo_values import to_attribute
from .job_store import JobStore, iso
from .models import JobRecord, JobStatus
from .nik_hash import BY_NIK_HASH_INDEX, NIK_HASH_ATTRIBUTE, NikHasher
from .observability import logger
from .provider_client import ProviderClient, ProviderError

ERASURE_PREFIX = "erasure#"
# Everything in a job item that is, or is derived from, the card holder's data.
PERSONAL_ATTRIBUTES = ("result", NIK_HASH_ATTRIBUTE, "object_key", "object_etag")
_TERMINAL = tuple(status.value for status in JobStatus if status.terminal)


class ErasureRequestError(ValueError):
    """The request names neither or both of reference_id and nik."""


@dataclass
class ErasureReport:
    """The erasure record (also the function's answer). Counts only."""

    erasure_id: str
    request_kind: Literal["reference_id", "nik"]
    requested_at: str
    jobs_found: int = 0
    jobs_erased: int = 0
    jobs_pending: int = 0
    object_versions_deleted: int = 0
    provider_copies: dict[str, int] = field(default_factory=dict)  # deleted / not_found / not_supported / failed

    def item(self) -> dict[str, Any]:
        return {"reference_id": ERASURE_PREFIX + self.erasure_id, "record_type": "erasure", **asdict(self)}


class Eraser:
    def __init__(self, store: JobStore, dynamodb: Any, table: str, s3: Any, provider: ProviderClient | None,
                 hasher: NikHasher | None, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._dynamodb = dynamodb
        self._table = table
        self._s3 = s3
        self._provider = provider
        self._hasher = hasher
        self._clock = clock

    def erase(self, request: dict[str, Any]) -> ErasureReport:
        reference_id, nik = request.get("reference_id"), request.get("nik")
        if bool(reference_id) == bool(nik):
            raise ErasureRequestError("give exactly one of reference_id or nik")
        kind: Literal["reference_id", "nik"] = "reference_id" if reference_id else "nik"
        report = ErasureReport(uuid.uuid4().hex, kind, iso(self._clock()))
        provider: Counter[str] = Counter()
        for record in self._jobs(str(reference_id) if reference_id else None, nik):
            report.jobs_found += 1
            if not record.status.terminal:
                report.jobs_pending += 1
                continue
            report.object_versions_deleted += self._delete_object(record)
            provider[self._delete_provider_copy(record.reference_id)] += 1
            if self._erase_record(record.reference_id, report.erasure_id):
                report.jobs_erased += 1
            else:  # it changed under us (a re-drive, a second erasure): counted as pending
                report.jobs_pending += 1
        report.provider_copies = dict(provider)
        self._dynamodb.put_item(TableName=self._table, Item={k: to_attribute(v) for k, v in report.item().items()},
                                ConditionExpression="attribute_not_exists(reference_id)")
        logger.info("erasure done", extra={k: v for k, v in asdict(report).items()})  # counts only
        return report

    # --- finding the jobs ----------------------------------------------------------------------

    def _jobs(self, reference_id: str | None, nik: Any) -> Iterator[JobRecord]:
        if reference_id is not None:
            if reference_id.startswith(ERASURE_PREFIX):
                return
            record = self._store.get(reference_id)
            if record is not None:
                yield record
            return
        if self._hasher is None:
            raise ErasureRequestError("erasure by NIK needs NIK_HASH_SECRET_ID")
        hashes = self._hasher.candidates(nik)
        if not hashes:
            raise ErasureRequestError("the NIK has no digits")
        # One query per key (the current one, then those rotated out): a job keeps the hash of the
        # key that was current when its result was stored.
        for hashed in hashes:
            pages = self._dynamodb.get_paginator("query").paginate(
                TableName=self._table, IndexName=BY_NIK_HASH_INDEX, KeyConditionExpression="#h = :h",
                ExpressionAttributeNames={"#h": NIK_HASH_ATTRIBUTE}, ExpressionAttributeValues={":h": {"S": hashed}},
            )
            for page in pages:  # the index projects keys only: read each job itself
                for item in page.get("Items", []):
                    record = self._store.get(item["reference_id"]["S"])
                    if record is not None:
                        yield record

    # --- the three copies ----------------------------------------------------------------------

    def _delete_object(self, record: JobRecord) -> int:
        if not (record.bucket and record.object_key):
            return 0
        ours = {v for v in (record.object_version_id,) if v}
        etag = (record.object_etag or "").strip('"')
        doomed, markers, others = [], [], 0
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=record.bucket, Prefix=record.object_key)
        for page in pages:
            for version in page.get("Versions", []):
                if version["Key"] != record.object_key:
                    continue
                if version["VersionId"] in ours or (etag and version.get("ETag", "").strip('"') == etag):
                    doomed.append(version["VersionId"])
                else:
                    others += 1
            markers += [m["VersionId"] for m in page.get("DeleteMarkers", []) if m["Key"] == record.object_key]
        # Delete markers only hide versions; once none of the key's versions is left they go too.
        removing = doomed + (markers if not others else [])
        for start in range(0, len(removing), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": record.object_key, "VersionId": v} for v in removing[start:start + 1000]]
            answer = self._s3.delete_objects(Bucket=record.bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                raise RuntimeError(f"could not delete {len(answer['Errors'])} object version(s)")
        return len(doomed)

    def _delete_provider_copy(self, reference_id: str) -> str:
        if self._provider is None:
            return "not_configured"
        try:
            return self._provider.delete_result(reference_id)
        except ProviderError as error:
            logger.warning("provider copy not erased",
                           extra={"reference_id": reference_id, "http_status": error.http_status,
                                  "error_code": error.error_code})
            return "failed"

    def _erase_record(self, reference_id: str, erasure_id: str) -> bool:
        names = {f"#r{i}": name for i, name in enumerate(PERSONAL_ATTRIBUTES)}
        now = self._clock()
        try:
            self._dynamodb.update_item(
                TableName=self._table, Key={"reference_id": {"S": reference_id}},
                UpdateExpression=f"REMOVE {', '.join(names)} SET #erased_at = :at, #erasure_id = :id",
                ConditionExpression="#status IN (" + ", ".join(f":t{i}" for i in range(len(_TERMINAL))) + ")",
                ExpressionAttributeNames={**names, "#erased_at": "erased_at", "#erasure_id": "erasure_id",
                                          "#status": "status"},
                ExpressionAttributeValues={":at": {"S": iso(now)}, ":id": {"S": erasure_id},
                                           **{f":t{i}": {"S": s} for i, s in enumerate(_TERMINAL)}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True
