"""The FastAPI application: routes, error rendering and the background tasks' lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from extractor.service import sandbox
from extractor.service.auth import authenticate
from extractor.service.callbacks import CallbackSender
from extractor.service.errors import AuthorizationFailed, ContractError, ErrorCode
from extractor.service.intake import accept_job, erase_job, read_result
from extractor.service.logs import get_logger
from extractor.service.middleware import GuardMiddleware
from extractor.service.models import (
    AcceptedResponse,
    AuthFailedResponse,
    DeletedResponse,
    ErrorResponse,
    HealthResponse,
    ResultResponse,
    SubmitRequest,
)
from extractor.service.net_guard import NetPolicy, guarded_client, verify_guard
from extractor.service.processing import JobProcessor
from extractor.service.settings import AppCredentials, ServiceSettings
from extractor.service.store import QuotaExhausted, Store
from extractor.service.storage import FileImageStore, WakeUpQueue
from extractor.service.submission import MAX_BODY_BYTES, Submission, parse_submission
from extractor.service.throttle import TokenBuckets, check_submit_rate
from extractor.service.workers import WorkerPool

log = get_logger()

SUBMIT_PATH = "/ktp/id/extract-async"
RESULT_PATH = "/ktp/id/extract-async/result"
# Image decoding/verification holds a decoded image in memory; bound how many run at once.
MAX_CONCURRENT_DECODES = 2
# Each submission may buffer up to 8 MiB of body; bound how many are in memory at once (further
# requests wait their turn on the connection).
MAX_CONCURRENT_SUBMISSIONS = 16
# Files in the image folder that no job references and are older than this are leftovers of a
# crash between writing the file and recording the job.
ORPHAN_IMAGE_AGE_SECONDS = 600


@dataclass
class ServiceState:
    settings: ServiceSettings
    store: Store
    policy: NetPolicy
    fetch_client: httpx.AsyncClient | None = None
    processor: JobProcessor | None = None
    sender: CallbackSender | None = None
    pool: WorkerPool | None = None
    decode_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_DECODES))
    submission_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_SUBMISSIONS)
    )
    # Per-application submit rate: one process, so the buckets live in memory.
    throttle: TokenBuckets = field(default_factory=TokenBuckets)
    tasks: list[asyncio.Task] = field(default_factory=list)


def _error_responses(*codes: int) -> dict[int | str, dict]:
    responses: dict[int | str, dict] = {}
    for code in codes:
        model = AuthFailedResponse if code == 401 else ErrorResponse
        responses[code] = {"model": model}
    if 429 in responses:
        responses[429]["headers"] = {"Retry-After": {
            "description": "Whole seconds until this App-ID's next submit is admitted", "schema": {"type": "integer"},
        }}
    return responses


def create_app(settings: ServiceSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServiceState(
            settings=settings, store=Store(settings.database_path), policy=NetPolicy(allow_loopback=settings.local)
        )
        app.state.service = state
        try:
            await _start(state)
            yield
        finally:
            await _stop(state)

    app = FastAPI(
        title="KTP extractor",
        version="1.0.0",
        description="Self-hostable KTP extraction service speaking the Extract-KTP-Async contract. "
        "See docs/extractor-service.md.",
        lifespan=lifespan,
    )
    app.add_middleware(GuardMiddleware)
    _install_error_handlers(app)

    @app.post(
        SUBMIT_PATH,
        response_model=AcceptedResponse,
        responses=_error_responses(400, 401, 403, 422, 429, 500),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SubmitRequest.model_json_schema()}},
            }
        },
        summary="Submit a KTP image for asynchronous extraction",
    )
    async def submit(request: Request, app_credentials: AppCredentials = Depends(authenticate)) -> JSONResponse:
        state: ServiceState = request.app.state.service
        async with state.submission_slots:
            raw = await _read_body(request)
            # JSON parsing of a multi-megabyte body is CPU work: keep it off the event loop.
            submission = await asyncio.to_thread(parse_submission, raw, state.policy, state.settings.sandbox)
            del raw
            if state.settings.sandbox:
                reference_id = await _accept_sandbox(state, app_credentials, submission)
            else:
                reference_id = await _accept_job(state, app_credentials, submission)
        return JSONResponse({"message": "accepted", "data": {"reference_id": reference_id}})

    @app.get(
        RESULT_PATH,
        response_model=ResultResponse,
        responses=_error_responses(400, 401, 404, 500),
        summary="Fetch a job's result (HTTP 200 with message 'processing' while it runs)",
    )
    async def result(
        request: Request,
        reference_id: str | None = Query(None, description="The id returned by the submit call"),
        app_credentials: AppCredentials = Depends(authenticate),
    ) -> JSONResponse:
        state: ServiceState = request.app.state.service
        if not reference_id:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND)
        if state.settings.sandbox:
            canned = sandbox.result_body(reference_id)
            if canned is not None:
                return JSONResponse(canned[1])
        return JSONResponse(await read_result(state.store, state.settings, app_credentials.app_id, reference_id))

    @app.delete(
        RESULT_PATH,
        response_model=DeletedResponse,
        responses=_error_responses(400, 401, 404, 500),
        summary="Erase a job: its stored result, queued callbacks and image (extension, not in the contract)",
    )
    async def delete_result(
        request: Request,
        reference_id: str | None = Query(None, description="The id returned by the submit call"),
        app_credentials: AppCredentials = Depends(authenticate),
    ) -> JSONResponse:
        # The pipeline's erasure (UU PDP) calls this; the same App-ID scope as GET, so one client
        # can only erase its own jobs. A job still processing is erased too: the worker's write
        # finds no row and nothing is delivered.
        state: ServiceState = request.app.state.service
        body = await erase_job(state.store, FileImageStore(state.settings.images_dir), app_credentials.app_id, reference_id)
        return JSONResponse(body)

    @app.get("/health", response_model=HealthResponse, summary="Liveness and queue depth")
    async def health(request: Request) -> HealthResponse:
        state: ServiceState = request.app.state.service
        return HealthResponse(
            status="ok", sandbox=state.settings.sandbox, workers=state.pool.size if state.pool else 0,
            jobs=await state.store.counts(),
        )

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ContractError)
    async def _contract_error(request: Request, exc: ContractError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(AuthorizationFailed)
    async def _auth_failed(request: Request, exc: AuthorizationFailed) -> JSONResponse:
        return JSONResponse({"message": "Authorization failed"}, status_code=401)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default 422 lists the offending input values; the contract's body does not.
        return JSONResponse(ContractError(ErrorCode.BAD_PAYLOAD).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(exc.status_code)
        if code is None:
            code = ErrorCode.INTERNAL_SERVER_ERROR if exc.status_code >= 500 else ErrorCode.INVALID_PAYLOAD
        return JSONResponse(
            {"message": str(exc.detail), "error_code": code.value}, status_code=exc.status_code, headers=exc.headers
        )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
    return bytes(body)


async def _accept_sandbox(state: ServiceState, app: AppCredentials, submission: Submission) -> str:
    await check_submit_rate(state.throttle, state.settings, app)
    sandbox.check_submission(submission.image, submission.reference_id)
    reference_id = sandbox.result_id(submission.image, submission.validate_quality)
    body = None
    if submission.callback_url:
        _, body = sandbox.result_body(reference_id)  # type: ignore[misc]
    try:
        await state.store.record_sandbox_submission(
            app.app_id, reference_id, state.settings.quota, submission.callback_url, body
        )
    except QuotaExhausted:
        raise ContractError(ErrorCode.INSUFFICIENT_QUOTA) from None
    if body is not None and state.sender:
        state.sender.notify()
    log.info("sandbox_accepted", app_id=app.app_id, reference_id=reference_id)
    return reference_id


async def _accept_job(state: ServiceState, app: AppCredentials, submission: Submission) -> str:
    return await accept_job(
        settings=state.settings, store=state.store, images=FileImageStore(state.settings.images_dir),
        queue=WakeUpQueue(state.processor.notify if state.processor else None), policy=state.policy,
        fetch_client=state.fetch_client, app=app, submission=submission, decode_slots=state.decode_slots,
        throttle=state.throttle,
    )


async def _start(state: ServiceState) -> None:
    settings = state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.images_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    await state.store.open()
    requeued = await state.store.requeue_unfinished()
    state.fetch_client = guarded_client(state.policy, timeout=settings.fetch_timeout_seconds)
    callback_client = guarded_client(state.policy, settings.callback_timeout_seconds)
    state.sender = CallbackSender(settings, state.store, callback_client)
    # Fail closed: if the SSRF guard is not in the connection path, the service does not start.
    for client in (state.fetch_client, callback_client):
        await verify_guard(client)
    state.tasks.append(asyncio.create_task(state.sender.run(), name="callbacks"))
    if not settings.sandbox:
        # Sandbox mode never runs OCR, so it needs neither workers nor an installed model.
        state.pool = WorkerPool(settings.workers, settings.engine_module)
        await state.pool.warm_up()
        state.processor = JobProcessor(
            state.store, state.pool, settings.max_processing_attempts, on_finished=state.sender.notify
        )
        state.tasks.append(asyncio.create_task(state.processor.run(), name="processor"))
    state.tasks.append(asyncio.create_task(_purge_loop(state), name="purge"))
    log.info(
        "service_started", workers=settings.workers if state.pool else 0, sandbox=settings.sandbox,
        local=settings.local, requeued_jobs=requeued, retention_hours=settings.retention_hours,
    )


async def _stop(state: ServiceState) -> None:
    for task in state.tasks:
        task.cancel()
    await asyncio.gather(*state.tasks, return_exceptions=True)
    if state.sender is not None:
        await state.sender.aclose()
    if state.fetch_client is not None:
        await state.fetch_client.aclose()
    if state.pool is not None:
        await asyncio.to_thread(state.pool.shutdown)
    await state.store.close()
    log.info("service_stopped")


async def _purge_loop(state: ServiceState) -> None:
    settings = state.settings
    while True:
        try:
            await purge_once(state)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.error("purge_error", exc_info=True)
        await asyncio.sleep(settings.purge_interval_seconds)


async def purge_once(state: ServiceState) -> None:
    settings = state.settings
    report = await state.store.purge(time.time() - settings.retention_hours * 3600)
    removed_files = 0
    for path in report.image_paths:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()
            removed_files += 1
    referenced = await state.store.referenced_images()
    now = time.time()
    for path in settings.images_dir.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if str(path) not in referenced and now - path.stat().st_mtime > ORPHAN_IMAGE_AGE_SECONDS:
                path.unlink()
                removed_files += 1
    if report.jobs or report.deliveries or removed_files:
        log.info("retention_purge", jobs=report.jobs, deliveries=report.deliveries, files=removed_files)
