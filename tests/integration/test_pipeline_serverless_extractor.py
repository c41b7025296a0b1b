"""The pipeline with `ktp up --extractor serverless` as its provider: the serverless extractor's
real handlers (API, SQS-driven OCR worker with the real engine, callback delivery) on their own
moto, behind the local HTTP API emulation. Every wait is bounded; nothing asserts on time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack

from .conftest import TEST_FUNCTION_ENV, describe, jpeg_bytes
from .test_pipeline_end_to_end import OCR_TIMEOUT, RECOVERY_TIMEOUT, assert_fields_match

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def serverless_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local_stack = LocalStack(
        tmp_path_factory.mktemp("serverless-stack"),
        poll_seconds=1.0,
        function_env=TEST_FUNCTION_ENV,
        extractor_kind="serverless",
        extractor_args=("--env", "KTP_CALLBACK_BACKOFF_SECONDS=0.5", "--env", "KTP_CALLBACK_MAX_ATTEMPTS=4"),
        extractor_workers=1,
        tap_provider=True,
        persist=False,
    )
    with local_stack:
        yield local_stack


def test_cards_through_the_serverless_extractor_all_end_terminal(serverless_stack: LocalStack, card_factory) -> None:
    jobs = serverless_stack.jobs
    cards = {}
    for seed in (111, 222):
        image, truth = card_factory(seed)
        cards[jobs.upload_bytes(image, f"serverless/kartu {seed}.jpg").reference_id] = truth
    no_ktp = jobs.upload_bytes(jpeg_bytes(1280, 860), "serverless/holiday photo.jpg").reference_id
    records = jobs.wait_terminal([*cards, no_ktp], timeout_seconds=OCR_TIMEOUT)
    for reference_id, truth in cards.items():
        assert records[reference_id]["status"] == "COMPLETED", describe(records)
        assert_fields_match(records[reference_id], truth)
    assert (records[no_ktp]["status"], records[no_ktp]["error_code"]) == ("FAILED", "KTP_NOT_DETECTED")
    assert serverless_stack.info.extractor_url == serverless_stack.extractor.url
    submits = serverless_stack.tap.submits()
    assert all(submits[ref] == 1 for ref in [*cards, no_ktp]), submits


def test_lost_callbacks_are_completed_by_the_poller(serverless_stack: LocalStack, card_factory) -> None:
    image, truth = card_factory(333)
    refused_before = serverless_stack.callback_endpoint.refused
    serverless_stack.refuse_callbacks(True)
    try:
        reference_id = serverless_stack.jobs.upload_bytes(image, "serverless/callback refused.jpg").reference_id
        record = serverless_stack.jobs.wait_terminal([reference_id], timeout_seconds=RECOVERY_TIMEOUT)[reference_id]
    finally:
        serverless_stack.refuse_callbacks(False)
    assert record is not None and record["status"] == "COMPLETED", record and record.get("status")
    assert record["result_source"] == "poll"
    assert serverless_stack.callback_endpoint.refused > refused_before
    assert_fields_match(record, truth)
