"""The one seam between the extractor's two homes: where jobs, images and queued work live.

`ktp serve` (one machine) uses the SQLite store (store.py), image files and an in-process wake-up;
the serverless extractor uses DynamoDB, S3 and SQS (aws_storage.py). Everything else (contract
models, validation, the engine call, result building, callback signing) is shared code that only
talks to these protocols. A new storage operation is one method here and one per implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from extractor.service.store import Job, QuotaExhausted, ReferenceExists  # noqa: F401 - re-exported


class JobStore(Protocol):
    """Jobs keyed on (application, reference_id), plus each application's accepted-count quota."""

    async def reference_exists(self, app_id: str, reference_id: str) -> bool: ...

    async def quota_left(self, app_id: str, quota: int | None) -> bool: ...

    async def insert_job(
        self, app_id: str, reference_id: str, validate_quality: bool, callback_url: str | None,
        image_path: str, quota: int | None,
    ) -> None:
        """Record a queued job and count it against the quota atomically; raises ReferenceExists
        or QuotaExhausted and then records nothing."""
        ...

    async def get_job(self, app_id: str, reference_id: str) -> Job | None: ...

    async def finish_job(self, job: Job, state: str, error_code: str | None, body: dict[str, Any]) -> bool:
        """Store the terminal result once (False if the job already was terminal), drop the image
        reference and, for a job with a callback URL, make its delivery pending."""
        ...

    async def delete_job(self, app_id: str, reference_id: str) -> Job | None:
        """Erase the job with its result and pending callback (the erasure extension); the deleted
        job, so the caller can delete its image, or None when there was none. Later writes for the
        job (a worker finishing it, a callback attempt) find nothing and change nothing."""
        ...


class ImageStore(Protocol):
    """Accepted images until the worker is done with them (``Job.image_path`` is the reference)."""

    async def put(self, data: bytes, image_format: str) -> str: ...

    async def get(self, reference: str) -> bytes: ...

    async def delete(self, reference: str) -> None: ...


class WorkQueue(Protocol):
    """Hands an accepted job to the OCR workers."""

    async def enqueue(self, app_id: str, reference_id: str) -> None: ...


class FileImageStore:
    """Images as owner-only files in one folder (``ktp serve``)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def put(self, data: bytes, image_format: str) -> str:
        return str(await asyncio.to_thread(write_image_file, self._folder, data, image_format))

    async def get(self, reference: str) -> bytes:
        return await asyncio.to_thread(Path(reference).read_bytes)

    async def delete(self, reference: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            Path(reference).unlink()


class WakeUpQueue:
    """``ktp serve``'s queue is the jobs table itself (the processor claims queued rows); enqueueing
    only wakes the processor."""

    def __init__(self, wake: Callable[[], None] | None) -> None:
        self._wake = wake

    async def enqueue(self, app_id: str, reference_id: str) -> None:
        if self._wake is not None:
            self._wake()


def write_image_file(folder: Path, data: bytes, image_format: str) -> Path:
    """Write durably (temp file, fsync, rename): an accepted job's image must survive a crash.
    File names are random, never derived from client input."""
    suffix = ".jpg" if image_format == "JPEG" else ".png"
    final = folder / f"{uuid.uuid4().hex}{suffix}"
    temp = final.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final
