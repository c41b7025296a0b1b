"""The straggler sweep: due items from the sparse GSI (Query per shard, never Scan), bounded concurrency.

Per item: past the deadline → one last look, then TIMED_OUT; RECEIVED/RETRY → claim and resubmit;
SUBMITTED → GET the result: ready → the callback's write (`result_source=poll`), not ready → check
again with backoff, 404 past the grace period → resubmit.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from .backoff import SUBMIT_CLAIM_SECONDS, poll_delay
from .job_store import FinishOutcome, JobStore
from .models import JobRecord, JobStatus
from .observability import error_fields, logger
from .provider_client import ProviderClient, ProviderRejected, ProviderTransientError, ResultNotFound
from .reasons import reason_for, timed_out_reason
from .settings import Settings
from .submitter import SubmitAction, Submitter

# Stop taking new items when less than the worst case of one item is left: its provider call with
# every timeout and retry (ProviderClient.worst_case_seconds) plus this allowance for the S3 read and
# the table writes, so an item started last still finishes before Lambda kills the invocation.
ITEM_OVERHEAD_SECONDS = 10.0


def stop_margin_ms_for(provider: ProviderClient) -> int:
    return int((provider.worst_case_seconds() + ITEM_OVERHEAD_SECONDS) * 1000)


class Poller:
    def __init__(self, store: JobStore, provider: ProviderClient, submitter: Submitter, settings: Settings,
                 *, stop_margin_ms: int | None = None) -> None:
        self._store = store
        self._provider = provider
        self._submitter = submitter
        self._settings = settings
        if stop_margin_ms is None:
            stop_margin_ms = stop_margin_ms_for(provider)
        self._stop_margin_ms = stop_margin_ms
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def run(self, remaining_ms: Callable[[], int]) -> Counter[str]:
        """One sweep over every shard; returns counters (checked, completed, resubmitted, timed_out, ...)."""
        self._counts = Counter()
        now = self._store.now()
        limit = self._settings.poller_max_concurrency
        in_flight: set[Future[None]] = set()
        stopped = False
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="poll") as pool:
            for shard in range(self._store.shards):
                for job in self._store.due(str(shard), now):
                    if remaining_ms() < self._stop_margin_ms:
                        stopped = True
                        break
                    # Keep at most `limit` items in flight so a huge backlog is not all read at once.
                    while len(in_flight) >= limit:
                        _, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    in_flight.add(pool.submit(self._safely, job))
                if stopped:
                    break
            wait(in_flight)
        if stopped:
            self._count("stopped_early")
            logger.info("poller stopped before the Lambda timeout; the rest is due next run")
        return self._counts

    def _safely(self, job: JobRecord) -> None:
        self._count("checked")
        try:
            self._process(job)
        except Exception as exc:  # one bad item must not stop the sweep; it stays due for the next run
            self._count("errors")
            logger.error("poller item failed", extra={"reference_id": job.reference_id, **error_fields(exc)})

    def _process(self, job: JobRecord) -> None:
        now = self._store.now()
        past_deadline = now - (job.created_epoch or now) > self._settings.job_deadline_seconds
        # A SUBMITTED job past the deadline still gets one last look: its result may just be ready.
        if job.status is JobStatus.SUBMITTED and self._poll(job, now, last_chance=past_deadline):
            return
        if past_deadline:
            self._time_out(job)
        elif job.status in (JobStatus.RECEIVED, JobStatus.RETRY) and self._store.claim_for_submit(
            job, SUBMIT_CLAIM_SECONDS
        ):
            self._resubmitted(self._submitter.resubmit(job).action)

    def _time_out(self, job: JobRecord) -> None:
        reason = timed_out_reason(job.error_code, self._settings.job_deadline_seconds)
        outcome = self._store.finish(job.reference_id, JobStatus.TIMED_OUT, reason=reason, error_code=job.error_code)
        if outcome is FinishOutcome.WRITTEN:
            self._count("timed_out")

    def _resubmitted(self, action: SubmitAction) -> None:
        if action in (SubmitAction.SUBMITTED, SubmitAction.ALREADY_SUBMITTED):
            self._count("resubmitted")
        else:
            self._count(f"resubmit_{action.value}")

    def _poll(self, job: JobRecord, now: float, *, last_chance: bool) -> bool:
        """GET the result of a SUBMITTED job. True when the job needs nothing more from this run."""
        ref = job.reference_id
        try:
            result = self._provider.get_result(ref)
        except ResultNotFound:
            since_submit = now - (job.submitted_epoch or job.created_epoch or now)
            if last_chance:
                return False
            if since_submit <= self._settings.result_grace_seconds:
                self._store.reschedule(ref, poll_delay(job.poll_count))
                self._count("not_ready")
                return True
            # Lost at the provider: SUBMITTED → RETRY (this is also our claim), then send it again.
            if self._store.mark_retry(ref, "RESULT_NOT_FOUND", reason_for("RESULT_NOT_FOUND"), SUBMIT_CLAIM_SECONDS):
                retried = job.model_copy(update={"status": JobStatus.RETRY, "retry_count": job.retry_count + 1})
                self._resubmitted(self._submitter.resubmit(retried).action)
            return True
        except ProviderRejected as exc:
            # 400 INVALID_PAYLOAD_REFERENCE_ID: the provider will never give this job's result.
            code = exc.error_code or "INVALID_PAYLOAD_REFERENCE_ID"
            if self._store.finish(ref, JobStatus.FAILED, reason=reason_for(code), error_code=code,
                                  result_source="poll") is FinishOutcome.WRITTEN:
                self._count("failed")
            return True
        except ProviderTransientError:
            if last_chance:
                return False
            self._store.reschedule(ref, poll_delay(job.poll_count))
            self._count("poll_errors")
            return True
        outcome = self._store.record_result(result, "poll", reference_id=ref)
        if outcome is None:  # still processing
            if last_chance:
                return False
            self._store.reschedule(ref, poll_delay(job.poll_count))
            self._count("not_ready")
        elif outcome is FinishOutcome.WRITTEN:
            self._count("completed" if result.state == "completed" else "failed")
        else:
            self._count("raced")  # a callback got there first: nothing changed
        return True
