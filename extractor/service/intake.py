"""Accepting a job and answering a result read: the same code in `ktp serve` and the serverless
API function, over the storage protocols (storage.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import httpx

from extractor.service.errors import ContractError, ErrorCode, JobErrorCode
from extractor.service.images import check_image, decode_base64_image, is_url
from extractor.service.logs import get_logger
from extractor.service.net_guard import NetPolicy
from extractor.service.results import failure_body, processing_body
from extractor.service.settings import AppCredentials, ServiceSettings
from extractor.service.storage import ImageStore, JobStore, QuotaExhausted, ReferenceExists, WorkQueue
from extractor.service.submission import Submission, check_reference_id_query
from extractor.service.throttle import SubmitThrottle, check_submit_rate
from extractor.service.url_fetch import fetch_image

log = get_logger()


async def accept_job(
    *,
    settings: ServiceSettings,
    store: JobStore,
    images: ImageStore,
    queue: WorkQueue,
    policy: NetPolicy,
    fetch_client: httpx.AsyncClient | None,
    app: AppCredentials,
    submission: Submission,
    decode_slots: asyncio.Semaphore | None = None,
    throttle: SubmitThrottle | None = None,
) -> str:
    """Validate the image, store it, record the job and queue it; returns the reference id."""
    reference_id = submission.reference_id or str(uuid.uuid4())
    # Cheap refusals first, before any download or decode; the rate first of all, so a client
    # over its rate costs no quota read either.
    await check_submit_rate(throttle, settings, app)
    if not await store.quota_left(app.app_id, settings.quota):
        raise ContractError(ErrorCode.INSUFFICIENT_QUOTA)
    if submission.reference_id and await store.reference_exists(app.app_id, reference_id):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_EXISTS)

    source = "url" if is_url(submission.image) else "base64"
    if source == "url":
        assert fetch_client is not None
        data = await fetch_image(
            fetch_client, policy, submission.image, settings.fetch_timeout_seconds, settings.fetch_max_redirects
        )
    else:
        data = await asyncio.to_thread(decode_base64_image, submission.image)
    async with decode_slots or contextlib.nullcontext():
        info = await asyncio.to_thread(check_image, data)

    image_ref = await images.put(data, info.format)
    try:
        await store.insert_job(
            app.app_id, reference_id, submission.validate_quality, submission.callback_url, image_ref, settings.quota
        )
    except BaseException as exc:
        await images.delete(image_ref)
        if isinstance(exc, ReferenceExists):
            raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_EXISTS) from None
        if isinstance(exc, QuotaExhausted):
            raise ContractError(ErrorCode.INSUFFICIENT_QUOTA) from None
        raise
    log.info(
        "job_accepted", app_id=app.app_id, reference_id=reference_id, source=source, bytes=len(data),
        width=info.width, height=info.height, format=info.format, validate_quality=submission.validate_quality,
        callback=submission.callback_url is not None,
    )
    try:
        await queue.enqueue(app.app_id, reference_id)
    except Exception:
        # The job is recorded but no worker will hear of it: end it now (a client that retries
        # the submit gets REFERENCE_ID_EXISTS and reads this failure) rather than leave it queued.
        log.error("job_enqueue_failed", exc_info=True, app_id=app.app_id, reference_id=reference_id)
        job = await store.get_job(app.app_id, reference_id)
        if job is not None:
            code = JobErrorCode.INTERNAL_SERVER_ERROR
            await store.finish_job(job, "failed", code.value, failure_body(reference_id, code))
        await images.delete(image_ref)
        raise
    return reference_id


async def read_result(store: JobStore, settings: ServiceSettings, app_id: str, reference_id: str | None) -> dict[str, Any]:
    """The body of GET .../result for a real (non-sandbox) job."""
    if not reference_id:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND)
    check_reference_id_query(reference_id)
    job = await store.get_job(app_id, reference_id)
    cutoff = time.time() - settings.retention_hours * 3600
    if job is None or (job.finished_at is not None and job.finished_at < cutoff):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND)
    if job.result is None:
        return processing_body(job.reference_id, job.state, job.validate_quality)
    return job.result


async def erase_job(store: JobStore, images: ImageStore, app_id: str, reference_id: str | None) -> dict[str, Any]:
    """The body of DELETE .../result (the erasure extension): the job, its result, its pending
    callback and its image are gone for this App-ID, or NOT_FOUND when it holds no such job."""
    if not reference_id:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND)
    check_reference_id_query(reference_id)
    # The image first: if deleting it fails, the job is still there and a retried DELETE finds it
    # again, instead of answering NOT_FOUND while the image remains.
    before = await store.get_job(app_id, reference_id)
    if before is not None and before.image_path:
        await images.delete(before.image_path)
    job = await store.delete_job(app_id, reference_id)
    if job is None:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND)
    if job.image_path and (before is None or job.image_path != before.image_path):
        await images.delete(job.image_path)
    log.info("job_erased", app_id=app_id, reference_id=job.reference_id)
    return {"message": "deleted", "data": {"reference_id": job.reference_id}}
