"""A restarted local stack restores its job records into the table; that restore is no job
transition, so it emits no completion event (the local Pipe starts at LATEST after the restore,
as a new Pipe on AWS would)."""

from __future__ import annotations

from local.completion_events import receive_events
from local.stack import LocalStack

from .conftest import TEST_EXTRACTOR_ARGS, TEST_FUNCTION_ENV, jpeg_bytes


def _stack(data_dir) -> LocalStack:
    return LocalStack(data_dir, poll_seconds=1.0, function_env=TEST_FUNCTION_ENV, extractor_args=TEST_EXTRACTOR_ARGS,
                      extractor_workers=1, persist=True)


def _events(stack: LocalStack, *, reads: int) -> list[dict]:
    sqs = stack.aws_client("sqs")
    return [e for _ in range(reads) for e in receive_events(sqs, stack.resources.completion_events_queue_url, wait_seconds=1)]


def test_restored_records_emit_no_event(tmp_path) -> None:
    with _stack(tmp_path) as first:
        rejected = first.jobs.upload_bytes(jpeg_bytes(400, 260), "restart/thumbnail.jpg").reference_id
        assert first.jobs.wait_terminal([rejected], timeout_seconds=60)[rejected]["status"] == "REJECTED"
        assert [e["detail"]["reference_id"] for e in _events(first, reads=5)] == [rejected]
    with _stack(tmp_path) as second:
        assert second.jobs.get(rejected)["status"] == "REJECTED"  # restored ...
        assert _events(second, reads=3) == []  # ... silently
