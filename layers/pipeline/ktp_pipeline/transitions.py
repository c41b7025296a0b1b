"""The job state machine as one table: operation → allowed source statuses → target status.

JobStore builds every ConditionExpression from it, and tests/unit/test_transitions.py checks the
diagram in docs/job-record.md against it, so code, table and diagram cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .models import JobStatus

NEW = None  # as a source: no item yet; the write creates it


class Op(StrEnum):
    CREATE = "create"  # an S3 upload claims a new job
    CLAIM = "claim"  # the poller leases a job for resubmission (status unchanged)
    SUBMIT = "submit"  # the provider accepted the job
    RETRY = "retry"  # a transient failure; the poller sends it again
    RESCHEDULE = "reschedule"  # the result is not ready; check again later (status unchanged)
    COMPLETE = "complete"  # a result with fields
    FAIL = "fail"  # a result with an error_code, or one we cannot store
    REJECT = "reject"  # the image or the request was refused before processing
    TIME_OUT = "time_out"  # no result within the deadline
    SUPERSEDE = "supersede"  # a failed attempt gets its successor (re-drive / re-upload; status unchanged)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[JobStatus | None]
    target: JobStatus | None  # None: the status stays (a lease or a new check time)


_R, _S, _T = JobStatus.RECEIVED, JobStatus.SUBMITTED, JobStatus.RETRY

TRANSITIONS: dict[Op, Transition] = {
    Op.CREATE: Transition(frozenset({NEW}), JobStatus.RECEIVED),
    Op.CLAIM: Transition(frozenset({_R, _T}), None),
    Op.SUBMIT: Transition(frozenset({_R, _T}), JobStatus.SUBMITTED),
    Op.RETRY: Transition(frozenset({_R, _S, _T}), JobStatus.RETRY),
    Op.RESCHEDULE: Transition(frozenset({_S}), None),
    # A result wins from every pending status, on purpose: its callback may overtake the submitter's
    # SUBMITTED write (RECEIVED), or arrive for a job we thought lost or unsent (RETRY). A callback
    # for an unknown id is stored too (NEW, flagged `orphan_callback`).
    Op.COMPLETE: Transition(frozenset({NEW, _R, _S, _T}), JobStatus.COMPLETED),
    Op.FAIL: Transition(frozenset({NEW, _R, _S, _T}), JobStatus.FAILED),
    # Refusals come from our own checks or the submit answer, so only before the provider has it.
    Op.REJECT: Transition(frozenset({_R, _T}), JobStatus.REJECTED),
    Op.TIME_OUT: Transition(frozenset({_R, _S, _T}), JobStatus.TIMED_OUT),
    # Only a failed attempt may be tried again (attempts.py adds "and it has no successor yet"); a
    # COMPLETED job is never billed twice, and a pending one is still being worked on.
    Op.SUPERSEDE: Transition(frozenset({JobStatus.FAILED, JobStatus.REJECTED, JobStatus.TIMED_OUT}), None),
}

FINISHING_OP: dict[JobStatus, Op] = {
    t.target: op for op, t in TRANSITIONS.items() if t.target is not None and t.target.terminal
}


def condition(op: Op) -> tuple[str, dict[str, dict[str, str]]]:
    """The ConditionExpression admitting exactly `op`'s sources, and its values (`#status` is `status`).
    An op that may also create the item is written as an update first (which fails on a missing
    item) and a conditional put second: JobStore decides, the condition here is the update's."""
    statuses = sorted(s for s in TRANSITIONS[op].sources if s is not None)  # existing ones, stable order
    if not statuses:
        return "attribute_not_exists(reference_id)", {}
    values = {f":from_{s.value.lower()}": {"S": s.value} for s in statuses}
    return f"#status IN ({', '.join(values)})", values

