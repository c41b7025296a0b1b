"""What one step did to one job: the single vocabulary of the submitter, the callback and the poller.
The value is also the metric's suffix (`submit_<outcome>`, `callback_<outcome>`, `poller_<outcome>`)."""

from __future__ import annotations

from enum import StrEnum

from .models import JobStatus


class Outcome(StrEnum):
    # The job moved; named after the status it reached.
    SUBMITTED = "submitted"
    RETRY = "retry"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    ALREADY_SUBMITTED = "already_submitted"  # SUBMITTED, because the provider already had the job
    RESUBMITTED = "resubmitted"  # SUBMITTED again by the poller
    ORPHAN_STORED = "orphan_stored"  # a result for an unknown reference_id, stored and flagged
    # The job stayed where it was.
    NOT_READY = "not_ready"  # the result is not ready; checked again later
    POLL_ERROR = "poll_error"  # the result could not be fetched; checked again later
    MISSING_RESULT = "missing_result"  # the provider has no record (404): not ready, or lost and sent again
    # Nothing was written.
    DUPLICATE = "duplicate"  # the job already existed (a repeated S3 event): no provider call
    ALREADY_TERMINAL = "already_terminal"  # duplicate or late result: the job had already ended
    LOST_RACE = "lost_race"  # another writer moved the job first
    MISSING = "missing"  # no such job
    SKIPPED = "skipped"  # not an ObjectCreated record
    ERROR = "error"  # an unexpected exception; the job stays due for the next run
    # The callback request was refused.
    UNAUTHORIZED = "unauthorized"
    MALFORMED = "malformed"
    SECRET_UNAVAILABLE = "secret_unavailable"

    @classmethod
    def reached(cls, status: JobStatus) -> Outcome:
        """The outcome of a write that moved a job to `status`."""
        return cls(status.value.lower())
