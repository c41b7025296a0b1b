"""The state-machine table is the truth: every write obeys it, and docs/job-record.md draws it."""

import re

import pytest
from ktp_pipeline.attempts import start_next_attempt
from ktp_pipeline.job_store import JobStore
from ktp_pipeline.models import JobStatus
from ktp_pipeline.outcomes import Outcome
from ktp_pipeline.transitions import NEW, TRANSITIONS, Op

from .conftest import REPO, TABLE_NAME

REF = "ktp-transition-test"
T0 = 1_800_000_000
STARTS = [NEW, *JobStatus]


def _diagram_edges() -> set[tuple[str, str, str]]:
    text = (REPO / "docs" / "job-record.md").read_text(encoding="utf-8")
    [diagram] = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    edges = set()
    for line in diagram.splitlines():
        match = re.fullmatch(r"\s*(\[\*]|\w+) --> (\w+)\s*:\s*(\w+).*", line)
        if match:
            edges.add(match.groups())
    return edges


def _table_edges() -> set[tuple[str, str, str]]:
    return {
        ("[*]" if source is NEW else source.value, transition.target.value, op.value)
        for op, transition in TRANSITIONS.items() if transition.target is not None
        for source in transition.sources
    }


def test_the_diagram_in_the_docs_is_the_table():
    drawn = _diagram_edges()
    table = _table_edges()
    assert drawn - table == set(), "edges in docs/job-record.md that the table does not allow"
    assert table - drawn == set(), "edges of the table missing from docs/job-record.md"


def test_every_terminal_status_has_one_finishing_operation():
    finishing = [t.target for t in TRANSITIONS.values() if t.target is not None and t.target.terminal]
    assert sorted(finishing) == sorted(s for s in JobStatus if s.terminal)


@pytest.fixture
def store(stack):
    return JobStore(stack.dynamodb, TABLE_NAME, clock=lambda: T0)


def _seed(stack, status):
    if status is NEW:
        return
    stack.dynamodb.put_item(TableName=TABLE_NAME, Item={
        "reference_id": {"S": REF}, "status": {"S": status.value}, "pending_shard": {"S": "0"},
        "next_check_at": {"N": str(T0 - 1)}, "created_epoch": {"N": str(T0 - 10)},
    })


def _attempt(store, op):
    """Run `op` through JobStore; True when it wrote."""
    if op is Op.CREATE:
        return store.create_received(REF, bucket="b", key="k", version_id=None, etag=None, size=None,
                                     claim_seconds=60)
    if op is Op.CLAIM:
        job = store.get(REF)
        return job is not None and store.claim_for_submit(job, 60)
    if op is Op.SUBMIT:
        return store.mark_submitted(REF, 60, "sent")
    if op is Op.RETRY:
        return store.mark_retry(REF, "HTTP_503", "retry", 60)
    if op is Op.RESCHEDULE:
        return store.reschedule(REF, 60)
    if op is Op.SUPERSEDE:
        job = store.get(REF)
        # A stale view claiming a failed status: the transaction's condition, not the caller, decides.
        view = job and job.model_copy(update={"status": JobStatus.FAILED, "bucket": "b", "object_key": "k",
                                              "object_etag": "e"})
        return view is not None and start_next_attempt(store, view, cause="redrive", claim_seconds=0) is not None
    target = TRANSITIONS[op].target
    outcome = store.finish(REF, target, reason="done", error_code="X", allow_orphan=True)
    return outcome in (Outcome.reached(target), Outcome.ORPHAN_STORED)


@pytest.mark.parametrize("op", list(Op))
@pytest.mark.parametrize("start", STARTS, ids=lambda s: "NEW" if s is NEW else s.value)
def test_each_write_is_allowed_from_exactly_its_table_sources(stack, store, op, start):
    _seed(stack, start)
    before = stack.raw_item(REF)
    allowed = start in TRANSITIONS[op].sources
    assert _attempt(store, op) is allowed
    after = stack.raw_item(REF)
    if not allowed:
        assert after == before
        return
    expected = TRANSITIONS[op].target or start
    assert after["status"]["S"] == expected.value
    if TRANSITIONS[op].target is not None and expected.terminal:  # a write reaching terminal
        assert "next_check_at" not in after  # out of the poller's sparse index
