"""The job processor: feeds queued jobs to the worker pool and stores their results.

At most ``pool.size`` jobs are 'processing' at a time, so the state in the database is the truth
about what the workers are doing. A job interrupted by a restart or a worker crash goes back to
the queue; after ``max_processing_attempts`` starts it fails with INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from extractor.service.errors import JobErrorCode
from extractor.service.logs import get_logger
from extractor.service.outcome import abandoned_result, job_result
from extractor.service.results import failure_body
from extractor.service.store import Job, Store
from extractor.service.workers import WorkerCrashed, WorkerPool

log = get_logger()

LOOP_ERROR_BACKOFF_SECONDS = 1.0


class JobProcessor:
    def __init__(self, store: Store, pool: WorkerPool, max_attempts: int, on_finished) -> None:
        self._store = store
        self._pool = pool
        self._max_attempts = max_attempts
        self._on_finished = on_finished  # called after a result with a callback is stored
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(pool.size)
        self._tasks: set[asyncio.Task] = set()

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        self._wake.set()  # pick up whatever a previous process left queued
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                try:
                    await self._dispatch()
                except Exception:
                    # e.g. the disk is full: keep the loop alive and try again shortly.
                    log.error("job_dispatch_error", exc_info=True)
                    await asyncio.sleep(LOOP_ERROR_BACKOFF_SECONDS)
                    self._wake.set()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _dispatch(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                claimed = await self._store.claim_queued(limit=1)
            except BaseException:
                self._slots.release()
                raise
            if not claimed:
                self._slots.release()
                return
            task = asyncio.create_task(self._process(claimed[0]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _process(self, job: Job) -> None:
        try:
            await self._process_job(job)
        except asyncio.CancelledError:
            raise  # shutting down: the job stays 'processing' and is requeued on the next start
        except Exception:
            log.error("job_processing_error", exc_info=True, reference_id=job.reference_id, app_id=job.app_id)
            with contextlib.suppress(Exception):
                await self._finish(job, JobErrorCode.INTERNAL_SERVER_ERROR, failure_body(job.reference_id, JobErrorCode.INTERNAL_SERVER_ERROR))
        finally:
            self._slots.release()
            self._wake.set()

    async def _process_job(self, job: Job) -> None:
        if job.processing_attempts > self._max_attempts or not job.image_path:
            log.error("job_abandoned", reference_id=job.reference_id, app_id=job.app_id, attempts=job.processing_attempts)
            await self._finish(job, *abandoned_result(job))
            return
        started = time.time()
        try:
            outcome = await self._pool.run(job.image_path)
        except WorkerCrashed:
            log.error("worker_crashed", reference_id=job.reference_id, attempts=job.processing_attempts)
            await self._store.requeue(job.app_id, job.reference_id)
            return
        finished = time.time()
        if not outcome["ok"]:
            log.error("job_engine_failure", reference_id=job.reference_id, failure=outcome["failure"])
        error_code, body = job_result(job, outcome, started, finished)
        await self._finish(job, error_code, body)

    async def _finish(self, job: Job, error_code: JobErrorCode | None, body: dict) -> None:
        state = "failed" if error_code else "completed"
        stored = await self._store.finish_job(job, state, error_code.value if error_code else None, body)
        if job.image_path:
            # The result is durable now; the image has served its purpose.
            with contextlib.suppress(FileNotFoundError):
                Path(job.image_path).unlink()
        log.info(
            "job_finished", reference_id=job.reference_id, app_id=job.app_id, state=state,
            error_code=error_code.value if error_code else None, stored=stored,
        )
        if stored and job.callback_url:
            self._on_finished()
