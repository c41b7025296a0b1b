"""The straggler sweep: due items from the sparse GSI (Query per shard, never Scan), bounded concurrency.

Per item, one Outcome: SUBMITTED → GET the result: ready → the callback's write
(`result_source=poll`), not ready or unreachable → check again with backoff, 404 past the grace
period → RETRY and resubmit; RECEIVED/RETRY → claim and resubmit; past the deadline → one last look
at a SUBMITTED result (which may fail), then TIMED_OUT.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import chain

from .backoff import SUBMIT_CLAIM_SECONDS, poll_delay, within_deadline
from .job_store import JobStore
from .models import JobRecord, JobStatus
from .observability import error_fields, logger
from .outcomes import Outcome
from .provider_client import ProviderClient, ProviderRejected, ProviderTransientError, ResultNotFound
from .reasons import reason_for, timed_out_reason
from .settings import Settings
from .submitter import Submitter

# Stop taking new items when less than the worst case of one item is left: its provider call with
# every timeout and retry (ProviderClient.worst_case_seconds) plus this allowance for the S3 read and
# the table writes, so an item started last still finishes before Lambda kills the invocation.
ITEM_OVERHEAD_SECONDS = 10.0
# What a look at a SUBMITTED job can find that leaves it pending (then: reschedule, resend or time out).
_WAITING = frozenset({Outcome.NOT_READY, Outcome.POLL_ERROR, Outcome.MISSING_RESULT, Outcome.ERROR})


def stop_margin_ms_for(provider: ProviderClient) -> int:
    return int((provider.worst_case_seconds() + ITEM_OVERHEAD_SECONDS) * 1000)


class Poller:
    def __init__(self, store: JobStore, provider: ProviderClient, submitter: Submitter, settings: Settings,
                 *, stop_margin_ms: int | None = None) -> None:
        self._store = store
        self._provider = provider
        self._submitter = submitter
        self._settings = settings
        self._stop_margin_ms = stop_margin_ms_for(provider) if stop_margin_ms is None else stop_margin_ms

    def run(self, remaining_ms: Callable[[], int]) -> Counter[str]:
        """One sweep over every shard: `checked`, `stopped_early` and one count per item Outcome."""
        counts: Counter[str] = Counter()
        now = self._store.now()
        due = chain.from_iterable(self._store.due(str(shard), now) for shard in range(self._store.shards))
        limit = self._settings.poller_max_concurrency
        in_flight: set[Future[Outcome]] = set()
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="poll") as pool:
            for job in due:
                if remaining_ms() < self._stop_margin_ms:
                    counts["stopped_early"] += 1
                    logger.info("poller stopped before the Lambda timeout; the rest is due next run")
                    break
                # Keep at most `limit` items in flight so a huge backlog is not all read at once.
                while len(in_flight) >= limit:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    counts.update(future.result().value for future in done)
                counts["checked"] += 1
                in_flight.add(pool.submit(self._safely, job))
            counts.update(future.result().value for future in wait(in_flight).done)
        return counts

    def _safely(self, job: JobRecord) -> Outcome:
        try:
            return self._process(job)
        except Exception as exc:  # one bad item must not stop the sweep; it stays due for the next run
            logger.error("poller item failed", extra={"reference_id": job.reference_id, **error_fields(exc)})
            return Outcome.ERROR

    def _process(self, job: JobRecord) -> Outcome:
        now = self._store.now()
        past_deadline = now - (job.created_epoch or now) > self._settings.job_deadline_seconds
        seen: Outcome | None = None
        if job.status is JobStatus.SUBMITTED:
            # Past the deadline too: one last look, the result may just be ready.
            try:
                seen = self._poll(job)
            except Exception as exc:
                if not past_deadline:
                    raise
                # An item failing on every run must still end, or it stays pending for ever.
                logger.error("last look before the time-out failed",
                             extra={"reference_id": job.reference_id, **error_fields(exc)})
                seen = Outcome.ERROR
            if seen not in _WAITING:
                return seen
        if past_deadline:
            reason = timed_out_reason(job.error_code, self._settings.job_deadline_seconds)
            return self._store.finish(job.reference_id, JobStatus.TIMED_OUT, reason=reason, error_code=job.error_code)
        if seen is Outcome.MISSING_RESULT:
            if now - (job.submitted_epoch or job.created_epoch or now) > self._settings.result_grace_seconds:
                return self._send_again(job)
            seen = Outcome.NOT_READY
        if seen is not None:
            # The clock read again: the provider's answer may have taken seconds, and the delay counts
            # from the write, not from the start of this item.
            delay = within_deadline(poll_delay(job.poll_count, self._settings.poll_base_seconds),
                                    job.created_epoch, self._store.now(), self._settings.job_deadline_seconds)
            return seen if self._store.reschedule(job.reference_id, delay) else Outcome.LOST_RACE
        if not self._store.claim_for_submit(job, SUBMIT_CLAIM_SECONDS):
            return Outcome.LOST_RACE
        return self._submitter.resubmit(job).action

    def _poll(self, job: JobRecord) -> Outcome:
        """GET the result of a SUBMITTED job and record it when it is ready; nothing else is written."""
        ref = job.reference_id
        try:
            result = self._provider.get_result(ref)
        except ResultNotFound:
            return Outcome.MISSING_RESULT
        except ProviderRejected as exc:
            # 400 INVALID_PAYLOAD_REFERENCE_ID: the provider will never give this job's result.
            code = exc.error_code or "INVALID_PAYLOAD_REFERENCE_ID"
            return self._store.finish(ref, JobStatus.FAILED, reason=reason_for(code), error_code=code,
                                      result_source="poll")
        except ProviderTransientError:
            return Outcome.POLL_ERROR
        return self._store.record_result(result, "poll", reference_id=ref) or Outcome.NOT_READY

    def _send_again(self, job: JobRecord) -> Outcome:
        """Lost at the provider: SUBMITTED → RETRY (this is also our claim), then send it again."""
        if not self._store.mark_retry(job.reference_id, "RESULT_NOT_FOUND", reason_for("RESULT_NOT_FOUND"),
                                      SUBMIT_CLAIM_SECONDS):
            return Outcome.LOST_RACE
        retried = job.model_copy(update={"status": JobStatus.RETRY, "retry_count": job.retry_count + 1})
        return self._submitter.resubmit(retried).action
