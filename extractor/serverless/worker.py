"""The OCR worker function: one SQS message per job key, the engine in this process.

Outcomes per message:
- the job is finished (result stored once, image deleted, callback queued): the message is done;
- the job is gone (erased by DELETE, or expired): the message is done, nothing is written;
- anything raised (a store or S3 fault): the message is reported as failed and SQS redelivers it;
- the process dies (out of memory, a segfault, the timeout): SQS redelivers after the visibility
  timeout. Every delivery starts one more processing attempt; past ``max_processing_attempts``
  the job fails with INTERNAL_SERVER_ERROR, so it is never lost and, since a result is stored
  only once (conditional write), never billed twice.
"""

from __future__ import annotations

import asyncio
import time
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError

from extractor.serverless.config import Runtime
from extractor.service.aws_storage import job_key
from extractor.service.errors import JobErrorCode
from extractor.service.logs import get_logger
from extractor.service.outcome import abandoned_result, job_result, run_engine
from extractor.service.store import Job

log = get_logger()


async def _finish(runtime: Runtime, job: Job, error_code: JobErrorCode | None, body: dict) -> None:
    state = "failed" if error_code else "completed"
    stored = await runtime.store.finish_job(job, state, error_code.value if error_code else None, body)
    if job.image_path:
        # The result is durable now: the image has served its purpose.
        await runtime.images.delete(job.image_path)
    if stored and job.callback_url:
        await runtime.callbacks.enqueue(job.app_id, job.reference_id)
    log.info(
        "job_finished", reference_id=job.reference_id, app_id=job.app_id, state=state,
        error_code=error_code.value if error_code else None, stored=stored, attempts=job.processing_attempts,
    )


async def process(runtime: Runtime, engine: ModuleType, app_id: str, reference_id: str) -> None:
    job = await runtime.store.claim(app_id, reference_id)
    if job is None:
        # Terminal already (a redelivery). If the process died between storing the result and
        # queueing its callback, queue it now; a duplicate message is dropped by the delivery.
        existing = await runtime.store.get_job(app_id, reference_id)
        if existing is None:
            # Erased (DELETE on the result path) or expired: nothing to do, the message is done.
            log.info("job_gone", reference_id=reference_id, app_id=app_id)
            return
        if existing.callback_url:
            state, attempts = await runtime.store.delivery(app_id, reference_id)
            if state == "pending" and attempts == 0:
                await runtime.callbacks.enqueue(app_id, reference_id)
        return
    if job.processing_attempts > runtime.settings.max_processing_attempts or not job.image_path:
        log.error("job_abandoned", reference_id=reference_id, app_id=app_id, attempts=job.processing_attempts)
        await _finish(runtime, job, *abandoned_result(job))
        return
    try:
        data = await runtime.images.get(job.image_path)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        log.error("job_image_missing", reference_id=reference_id, app_id=app_id)
        await _finish(runtime, job, *abandoned_result(job))
        return
    started = time.time()
    outcome = await asyncio.to_thread(run_engine, engine, data)
    del data
    finished = time.time()
    if not outcome["ok"]:
        log.error("job_engine_failure", reference_id=reference_id, failure=outcome["failure"])
    await _finish(runtime, job, *job_result(job, outcome, started, finished))


def handle(runtime: Runtime, engine: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            app_id, reference_id = job_key(record["body"])
            asyncio.run(process(runtime, engine, app_id, reference_id))
        except Exception:
            log.error("work_message_failed", exc_info=True, message_id=record.get("messageId"))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
