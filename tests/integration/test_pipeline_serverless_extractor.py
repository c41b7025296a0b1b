"""The pipeline with `ktp up --extractor serverless` as its provider: the serverless extractor's
real handlers (API, SQS-driven OCR worker with the real engine, callback delivery) on their own
moto, behind the local HTTP API emulation. Every wait is bounded; nothing asserts on time."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local.stack import LocalStack

from .conftest import TEST_FUNCTION_ENV, describe, jpeg_bytes
from .on_one_stack.test_pipeline_end_to_end import (
    OCR_TIMEOUT,
    RECOVERY_TIMEOUT,
    assert_fields_match,
    assert_the_poller_completes_a_card_whose_callbacks_are_refused,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def extractor_info_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serverless-extractor-info") / "ready.json"


@pytest.fixture(scope="module")
def serverless_stack(tmp_path_factory: pytest.TempPathFactory, extractor_info_file: Path) -> Iterator[LocalStack]:
    local_stack = LocalStack(
        tmp_path_factory.mktemp("serverless-stack"),
        poll_seconds=1.0,
        function_env=TEST_FUNCTION_ENV,
        extractor_kind="serverless",
        # A crashed worker's message comes back after 5 s here (the template's 1080 s on AWS).
        extractor_args=("--env", "KTP_CALLBACK_BACKOFF_SECONDS=0.5", "--env", "KTP_CALLBACK_MAX_ATTEMPTS=4",
                        "--work-visibility", "5", "--ready-file", str(extractor_info_file)),
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
    assert_the_poller_completes_a_card_whose_callbacks_are_refused(
        serverless_stack, card_factory(333), "serverless/callback refused.jpg")


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            kids = [int(x) for x in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


def _worker_pids(root: int) -> list[int]:
    """The OCR worker's environments: the ones with the OCR engine's library loaded. (Their
    /proc/PID/environ cannot tell: an environment forked by the local zygote shows the zygote's.)"""
    pids = []
    for pid in _descendants(root):
        try:
            maps = Path(f"/proc/{pid}/maps").read_bytes()
        except OSError:
            continue
        if b"faster_paddle" in maps:
            pids.append(pid)
    return pids


def test_worker_killed_mid_job_is_retried_and_completes_once(
    serverless_stack: LocalStack, card_factory, extractor_info_file: Path
) -> None:
    info = json.loads(extractor_info_file.read_text())
    ddb = boto3.client("dynamodb", endpoint_url=info["endpoint_url"], region_name=info["region"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    table = info["names"]["JobsTable"]

    def processing() -> list[dict]:
        items = ddb.scan(TableName=table)["Items"]
        return [item for item in items if item.get("state", {}).get("S") == "processing"]

    killed_reference = None
    # The kill must land while OCR runs; a card that finished first is simply tried with another.
    for seed in (444, 555, 666):
        image, truth = card_factory(seed)
        reference_id = serverless_stack.jobs.upload_bytes(image, f"serverless/kill {seed}.jpg").reference_id
        deadline = time.monotonic() + OCR_TIMEOUT
        busy: list[dict] = []
        while time.monotonic() < deadline:
            busy = processing()
            if busy:
                break
            record = serverless_stack.jobs.get(reference_id)
            if record and record["status"] in ("COMPLETED", "FAILED", "REJECTED"):
                break
            time.sleep(0.05)
        if busy:
            for pid in _worker_pids(serverless_stack.extractor.pid):
                os.kill(pid, signal.SIGKILL)
            key = {"app_id": busy[0]["app_id"], "reference_id": busy[0]["reference_id"]}
            # On a busy machine the OCR may end between the scan and the kill; then the job is no longer
            # "processing" (a write already sent lands too, hence the pause) and the next card is tried.
            time.sleep(0.5)
            if ddb.get_item(TableName=table, Key=key)["Item"].get("state", {}).get("S") == "processing":
                killed_reference = (reference_id, busy[0]["reference_id"]["S"], busy[0]["app_id"]["S"], truth)
                break
    assert killed_reference is not None, "no card was caught mid-OCR"
    reference_id, extractor_reference, app_id, truth = killed_reference
    record = serverless_stack.jobs.wait_terminal([reference_id], timeout_seconds=RECOVERY_TIMEOUT)[reference_id]
    assert record is not None and record["status"] == "COMPLETED", record and record.get("status")
    assert_fields_match(record, truth)
    item = ddb.get_item(TableName=table, Key={"app_id": {"S": app_id}, "reference_id": {"S": extractor_reference}})["Item"]
    # The killed start and the one that finished; the result was stored (and billed) once.
    assert int(item["processing_attempts"]["N"]) == 2
    assert serverless_stack.tap.submits()[reference_id] == 1


def test_erasure_deletes_the_serverless_extractors_copy(serverless_stack: LocalStack, card_factory) -> None:
    """`ktp erase` through the EraseFunction: the serverless extractor's DELETE route removes its
    copy (recorded as deleted, not not_found), and a second erasure finds nothing there."""
    import subprocess
    import sys

    import httpx

    image, _ = card_factory(444)
    reference_id = serverless_stack.jobs.upload_bytes(image, "serverless/erase me.jpg").reference_id
    record = serverless_stack.jobs.wait_terminal([reference_id], timeout_seconds=OCR_TIMEOUT)[reference_id]
    assert record is not None and record["status"] == "COMPLETED", record and record.get("status")
    credentials = json.loads((serverless_stack.data_dir / "credentials.json").read_text())
    extractor = httpx.Client(base_url=serverless_stack.info.extractor_url, trust_env=False, timeout=30,
                             headers={"App-ID": credentials["app_id"], "API-Key": credentials["api_key"]})
    result_path = "/ktp/id/extract-async/result"
    assert extractor.get(result_path, params={"reference_id": reference_id}).status_code == 200

    def erase() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ktp", "erase", "--reference-id", reference_id, "--json",
             "--data-dir", str(serverless_stack.data_dir)],
            capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "200"},
        )

    first = erase()
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads(first.stdout)["provider_copies"] == {"deleted": 1}
    gone = extractor.get(result_path, params={"reference_id": reference_id})
    assert gone.status_code == 404 and gone.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"
    again = erase()
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["provider_copies"] == {"not_found": 1}
