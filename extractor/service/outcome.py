"""The engine call and what its outcome means for a job: shared by `ktp serve`'s worker processes
and the serverless OCR worker function."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from extractor.result import KtpExtraction
from extractor.service.errors import JobErrorCode
from extractor.service.results import extraction_body, failure_body
from extractor.service.store import Job


def run_engine(engine: ModuleType, data: bytes) -> dict[str, Any]:
    """Returns a plain dict (always picklable): either the extraction or the name of the failure,
    never the exception itself (engine exceptions may not pickle, and their messages could carry
    card text)."""
    started = time.perf_counter()
    try:
        extraction = engine.extract(data)
    except ValueError as exc:  # ImageDecodeError is a ValueError
        return {"ok": False, "failure": f"engine rejected image: {type(exc).__name__}"}
    except Exception as exc:  # noqa: BLE001 - any engine fault becomes a failed job, not a dead loop
        return {"ok": False, "failure": f"engine error: {type(exc).__name__}"}
    return {
        "ok": True,
        "extraction": extraction.model_dump(mode="json"),
        "worker_seconds": time.perf_counter() - started,
    }


def job_result(job: Job, outcome: dict[str, Any], started: float, finished: float) -> tuple[JobErrorCode | None, dict]:
    """(error code or None, result body) of a job whose engine run ended with ``outcome``."""
    if not outcome["ok"]:
        return JobErrorCode.INTERNAL_SERVER_ERROR, failure_body(job.reference_id, JobErrorCode.INTERNAL_SERVER_ERROR)
    extraction = KtpExtraction.model_validate(outcome["extraction"])
    timings = {
        "queued_seconds": max(0.0, started - job.created_at),
        "processing_seconds": finished - started,
        "engine_seconds": extraction.seconds,
        "total_seconds": finished - job.created_at,
    }
    return extraction_body(job.reference_id, extraction, job.validate_quality, timings)


def abandoned_result(job: Job) -> tuple[JobErrorCode, dict]:
    """A job that cannot be run any more (too many starts, image gone): INTERNAL_SERVER_ERROR."""
    return JobErrorCode.INTERNAL_SERVER_ERROR, failure_body(job.reference_id, JobErrorCode.INTERNAL_SERVER_ERROR)
