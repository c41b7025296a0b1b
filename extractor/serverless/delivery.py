"""The callback function: POST each finished result to its callback URL with the application's
Basic-auth pair, one attempt per SQS delivery of the job's key.

A failed attempt is recorded on the job, and the message is made visible again only after the
exponential backoff (ChangeMessageVisibility, then reported as a batch-item failure). After
``callback_max_attempts`` the delivery is abandoned (the result stays readable by GET). Messages
the function cannot even handle end in the callback dead-letter queue, which has an alarm.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from extractor.serverless.config import Runtime
from extractor.service.aws_storage import job_key
from extractor.service.callbacks import backoff_delay, callback_headers, post_callback
from extractor.service.logs import get_logger
from extractor.service.net_guard import NetPolicy, guarded_client, verify_guard

log = get_logger()

SQS_MAX_VISIBILITY_SECONDS = 43200


async def deliver(runtime: Runtime, app_id: str, reference_id: str) -> float | None:
    """One attempt; returns the delay before the next one, or None when nothing is left to do."""
    settings = runtime.settings
    job = await runtime.store.get_job(app_id, reference_id)
    if job is None:
        # Erased (DELETE on the result path) or expired: its callback goes with it.
        log.info("callback_dropped", reference_id=reference_id, app_id=app_id, reason="job_gone")
        return None
    if job.result is None or not job.callback_url:
        return None
    state, attempts = await runtime.store.delivery(app_id, reference_id)
    if state != "pending":
        return None  # delivered or abandoned already (a duplicate message)
    client = guarded_client(NetPolicy(allow_loopback=settings.local), settings.callback_timeout_seconds)
    try:
        await verify_guard(client)
        status, error = await post_callback(
            client, job.callback_url, json.dumps(job.result).encode(), callback_headers(settings.app(app_id)),
            settings.callback_timeout_seconds,
        )
    finally:
        await client.aclose()
    attempts_made = attempts + 1
    delay = None
    if error is None:
        outcome = "delivered"
    elif attempts_made < settings.callback_max_attempts:
        outcome, delay = "pending", backoff_delay(settings, attempts_made)
    else:
        outcome = "abandoned"
    await runtime.store.record_attempt(app_id, reference_id, status, error, outcome)
    log.info(
        "callback_attempt", reference_id=reference_id, app_id=app_id, attempt=attempts_made, http_status=status,
        error=error, outcome="retry" if outcome == "pending" else outcome,
    )
    return delay


def handle(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            app_id, reference_id = job_key(record["body"])
            delay = asyncio.run(deliver(runtime, app_id, reference_id))
            if delay is not None:
                runtime.sqs.change_message_visibility(
                    QueueUrl=runtime.callbacks.url, ReceiptHandle=record["receiptHandle"],
                    VisibilityTimeout=int(min(SQS_MAX_VISIBILITY_SECONDS, max(0, round(delay)))),
                )
                failures.append({"itemIdentifier": record["messageId"]})
        except Exception:
            log.error("callback_message_failed", exc_info=True, message_id=record.get("messageId"))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
