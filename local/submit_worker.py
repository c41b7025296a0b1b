"""Feeds the submit function the way S3 → Lambda would: S3 notifications land on a local SQS
queue (moto), each message becomes the function's S3 event, and a message is deleted only after
the function succeeded. A failing event is retried (Lambda's async retries: 2) with backoff, then
recorded on the template's failure queue — never silently dropped."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.events import s3_event_from_message
from local.functions import InvocationError, LocalFunction

log = logging.getLogger("ktp.local.submit")

MAX_RECEIVES = 3  # first attempt + Lambda's two asynchronous retries


class SubmitWorker:
    def __init__(
        self,
        function: LocalFunction,
        sqs: Any,
        queue_url: str,
        *,
        failure_queue_url: str | None,
        concurrency: int = 2,
        wait_seconds: int = 1,
    ) -> None:
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.failure_queue_url = failure_queue_url
        self.wait_seconds = wait_seconds
        self.concurrency = concurrency
        self.processed = 0
        self.failed = 0
        self.skipped_test_events = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="submit-worker", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="submit")
        # Visibility must outlast one invocation so a slow event is not handed out twice.
        self.visibility_seconds = function.config.spec.timeout_seconds + 10

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.wait_seconds + 35)
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.concurrency,
                    WaitTimeSeconds=self.wait_seconds,
                    VisibilityTimeout=self.visibility_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
            except Exception as error:  # noqa: BLE001 - moto is stopping or hiccuped; try again
                if self._stop.wait(1.0):
                    return
                log.warning("receiving S3 events failed: %s", type(error).__name__)
                continue
            messages = answer.get("Messages", [])
            # Handle the batch in parallel but finish it before the next receive (bounded work).
            for future in [self._pool.submit(self._handle, message) for message in messages]:
                future.result()

    def _handle(self, message: dict[str, Any]) -> None:
        try:
            event = s3_event_from_message(message["Body"])
        except (ValueError, json.JSONDecodeError):
            log.warning("dropping a message that is not an S3 notification")
            self._record_failure(message, "NotAnS3Event")
            return
        if event is None:
            with self._lock:
                self.skipped_test_events += 1
            self._delete(message)
            return
        try:
            self.function.invoke(event)
        except InvocationError as error:
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives >= MAX_RECEIVES:
                log.error("submit failed %d times (%s); recording the event on the failure queue", receives, error.error_type)
                self._record_failure(message, error.error_type)
            else:
                backoff = min(60, 2 ** receives)
                log.warning("submit failed (%s); retrying in %ss", error.error_type, backoff)
                self._change_visibility(message, backoff)
            return
        with self._lock:
            self.processed += 1
        self._delete(message)

    def _record_failure(self, message: dict[str, Any], error_type: str) -> None:
        with self._lock:
            self.failed += 1
        if self.failure_queue_url:
            self.sqs.send_message(
                QueueUrl=self.failure_queue_url,
                MessageBody=message["Body"],
                MessageAttributes={"ErrorType": {"DataType": "String", "StringValue": error_type}},
            )
        self._delete(message)

    def _delete(self, message: dict[str, Any]) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _change_visibility(self, message: dict[str, Any], seconds: int) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds
        )
