"""S3 upload (Powertools' `S3Event`) → local image checks → provider submit → job record. Also the
poller's resubmission path. Object keys are never logged: a file name may well be a person's name.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from .attempts import reupload_attempt
from .backoff import RETRY_CAP_SECONDS, SUBMIT_CLAIM_SECONDS, retry_delay, within_deadline
from .image_checks import FORMAT, MAX_IMAGE_BYTES, SIZE, check_image, too_large
from .job_store import JobStore
from .models import JobRecord, JobStatus, SubmitRequest
from .observability import error_fields, logger, tracer
from .outcomes import Outcome
from .provider_client import ProviderClient, ProviderRejected, ProviderTransientError
from .reasons import reason_for
from .reference_ids import reference_id_for
from .settings import Settings

# The provider fetches a presigned image while it processes; long enough for a queue, short enough
# that a leaked URL soon stops working.
PRESIGNED_URL_SECONDS = 900
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def is_object_created(record: S3EventRecord) -> bool:
    return record.get("eventSource") == "aws:s3" and str(record.get("eventName", "")).startswith("ObjectCreated:")


def decoded_key(record: S3EventRecord) -> str:
    # S3 URL-encodes keys in notifications and writes spaces as '+' (Powertools' `key` is the raw one).
    return unquote_plus(record.s3.get_object.key)


@dataclass(frozen=True)
class SubmitOutcome:
    reference_id: str | None
    action: Outcome


class Submitter:
    def __init__(self, store: JobStore, s3: Any, provider: ProviderClient, settings: Settings) -> None:
        self._store = store
        self._s3 = s3
        self._provider = provider
        self._settings = settings

    def handle_event(self, event: Mapping[str, Any]) -> list[SubmitOutcome]:
        if "Records" not in event:  # `s3:TestEvent`, sent once when a notification is configured
            logger.info("event without records ignored", extra={"event": event.get("Event")})
            return []
        outcomes: list[SubmitOutcome] = []
        failure: Exception | None = None
        for record in S3Event(event).records:
            try:
                outcomes.append(self.submit_record(record))
            except Exception as exc:  # finish the other records; the re-raise makes Lambda retry the event
                logger.error("record failed", extra=error_fields(exc))
                failure = failure or exc
        if failure is not None:
            raise failure
        return outcomes

    def submit_record(self, record: S3EventRecord) -> SubmitOutcome:
        if not is_object_created(record):
            logger.info("non-create record ignored", extra={"event_name": record.get("eventName")})
            return SubmitOutcome(None, Outcome.SKIPPED)
        obj, bucket = record.s3.get_object, record.s3.bucket.name
        key = decoded_key(record)
        reference_id = reference_id_for(bucket, key, obj.version_id, obj.etag)
        logger.set_correlation_id(reference_id)
        tracer.put_annotation(key="reference_id", value=reference_id)  # find a job's trace by its id
        sequencer = obj.get("sequencer")
        created = self._store.create_received(
            reference_id, bucket=bucket, key=key, version_id=obj.version_id, etag=obj.etag or None,
            size=obj.get("size"), claim_seconds=SUBMIT_CLAIM_SECONDS, sequencer=sequencer,
        )
        created_epoch = int(self._store.now())  # this job's, or a new attempt's: both start now
        if not created:
            # The same bytes again after a failed last attempt: a new attempt (attempts.py), billed
            # because the user uploaded again; a duplicated event of a known upload is not one.
            successor = reupload_attempt(self._store, reference_id, version_id=obj.version_id, sequencer=sequencer,
                                         size=obj.get("size"), claim_seconds=SUBMIT_CLAIM_SECONDS,
                                         key=key, etag=obj.etag or None)
            if successor is not None:
                logger.set_correlation_id(successor)
                logger.info("re-upload after a failed attempt: new attempt",
                            extra={"reference_id": successor, "predecessor_id": reference_id})
                return self._check_and_send(successor, bucket, key, obj.version_id, obj.get("size"), retry_count=0,
                                            created_epoch=created_epoch)
            # Submitted, terminal, or claimed by a live submitter (the poller covers a dead one).
            logger.info("duplicate upload event: job exists, no provider call", extra={"reference_id": reference_id})
            return SubmitOutcome(reference_id, Outcome.DUPLICATE)
        return self._check_and_send(reference_id, bucket, key, obj.version_id, obj.get("size"), retry_count=0,
                                    created_epoch=created_epoch)

    def resubmit(self, job: JobRecord) -> SubmitOutcome:
        """Send a claimed RECEIVED/RETRY job again, reading the image from S3 again. Runs in poller
        worker threads: no shared logger state (correlation id) is set here."""
        if not job.bucket or not job.object_key:
            return self._reject(job.reference_id, "OBJECT_NOT_FOUND")
        sent = self._check_and_send(job.reference_id, job.bucket, job.object_key, job.object_version_id,
                                    job.object_size, retry_count=job.retry_count, created_epoch=job.created_epoch)
        if sent.action in (Outcome.SUBMITTED, Outcome.ALREADY_SUBMITTED):
            return SubmitOutcome(job.reference_id, Outcome.RESUBMITTED)
        return sent

    def _check_and_send(self, reference_id: str, bucket: str, key: str, version_id: str | None,
                        size_hint: int | None, *, retry_count: int, created_epoch: int | None) -> SubmitOutcome:
        # `created_epoch` bounds every scheduled check by the job's deadline (backoff.within_deadline).
        # The event's size first, so an oversized object is never downloaded.
        if size_hint is not None and size_hint > MAX_IMAGE_BYTES:
            return self._reject(reference_id, SIZE, too_large(size_hint).reason)
        params = {"Bucket": bucket, "Key": key}
        if version_id and version_id != "null":
            params["VersionId"] = version_id
        try:
            with self._s3.get_object(**params)["Body"] as body:
                data = body.read(MAX_IMAGE_BYTES + 1)  # never more than the limit, whatever the size says
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in _NOT_FOUND_CODES:
                return self._reject(reference_id, "OBJECT_NOT_FOUND")
            logger.warning("image read failed; will retry",
                           extra={"reference_id": reference_id, "error": code or type(exc).__name__})
            return self._retry(reference_id, "OBJECT_READ_FAILED", retry_count, created_epoch)
        verdict = check_image(data)
        if not verdict.ok:
            return self._reject(reference_id, verdict.error_code or FORMAT, verdict.reason)

        if self._settings.image_transport == "presigned_url":
            image = self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=PRESIGNED_URL_SECONDS)
        else:
            image = base64.b64encode(data).decode("ascii")
        request = SubmitRequest(image=image, validate_quality=self._settings.validate_quality,
                                reference_id=reference_id, callback_url=self._settings.callback_url or None)
        try:
            accepted = self._provider.submit(request)
        except ProviderRejected as exc:
            if exc.error_code == "INVALID_PAYLOAD_REFERENCE_ID_EXISTS":
                # The provider already has this job (a lost answer, or a resubmission): treat as sent.
                return self._submitted(reference_id, Outcome.ALREADY_SUBMITTED,
                                       "Already at the provider; waiting for the result.", created_epoch)
            return self._reject(reference_id, exc.error_code or "INVALID_PAYLOAD")
        except ProviderTransientError as exc:
            return self._retry(reference_id, exc.error_code or "PROVIDER_UNREACHABLE", retry_count, created_epoch,
                               exc.retry_after)
        echoed = accepted.data.reference_id
        if echoed and echoed != reference_id:
            # Its callback will carry the provider's id and land as an orphan; the poller still asks for ours.
            logger.warning("provider answered with a different reference_id",
                           extra={"reference_id": reference_id, "provider_reference_id": echoed})
        return self._submitted(reference_id, Outcome.SUBMITTED, "Sent to the provider; waiting for the result.",
                               created_epoch)

    def _submitted(self, reference_id: str, action: Outcome, reason: str, created_epoch: int | None) -> SubmitOutcome:
        first_check = self._within_deadline(self._settings.first_check_seconds, created_epoch)
        if self._store.mark_submitted(reference_id, first_check, reason):
            logger.info("job submitted", extra={"reference_id": reference_id, "action": action.value})
            return SubmitOutcome(reference_id, action)
        # A callback overtook us (possible: the provider may answer before we write SUBMITTED).
        logger.info("job finished before SUBMITTED was written", extra={"reference_id": reference_id})
        return SubmitOutcome(reference_id, Outcome.LOST_RACE)

    def _reject(self, reference_id: str, error_code: str, reason: str | None = None) -> SubmitOutcome:
        outcome = self._store.finish(reference_id, JobStatus.REJECTED, reason=reason or reason_for(error_code),
                                     error_code=error_code)
        logger.info("job rejected", extra={"reference_id": reference_id, "error_code": error_code,
                                           "outcome": outcome.value})
        return SubmitOutcome(reference_id, outcome)

    def _retry(self, reference_id: str, error_code: str, retry_count: int, created_epoch: int | None,
               not_before: float | None = None) -> SubmitOutcome:
        delay = retry_delay(retry_count, self._settings.retry_base_seconds)
        if not_before:  # the provider's Retry-After (a 429), within our own cap
            delay = max(delay, min(RETRY_CAP_SECONDS, math.ceil(not_before)))
        delay = self._within_deadline(delay, created_epoch)
        if not self._store.mark_retry(reference_id, error_code, reason_for(error_code), delay):
            return SubmitOutcome(reference_id, Outcome.LOST_RACE)
        logger.info("job will be retried", extra={"reference_id": reference_id, "error_code": error_code})
        return SubmitOutcome(reference_id, Outcome.RETRY)

    def _within_deadline(self, delay: int, created_epoch: int | None) -> int:
        return within_deadline(delay, created_epoch, self._store.now(), self._settings.job_deadline_seconds)
