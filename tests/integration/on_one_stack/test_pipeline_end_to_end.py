"""The whole pipeline on one machine: real cards through moto, the three real handlers and the
real extractor; then the faults it must survive. Every wait is bounded; nothing asserts on time."""

from __future__ import annotations

import os
import signal

import pytest

from extractor.result import CONTRACT_FIELDS
from local.stack import LocalStack

from ..conftest import describe, descendants, jpeg_bytes, s3_event_body, wait_for

pytestmark = pytest.mark.slow

OCR_TIMEOUT = 240.0  # several OCR jobs on a busy 2-core machine
# The fixture shortens the poller's first look and the backoffs to seconds (conftest.py); the
# bound still allows for OCR on a busy 2-core machine.
RECOVERY_TIMEOUT = 300.0


def assert_fields_match(record: dict, truth: dict) -> None:
    """The record carries what the card says. The NIK and birth date must be exact; the name may
    differ only in spacing (OCR splits or joins words); at most three fields may be misread —
    this checks the pipeline end to end, the engine's accuracy has its own tests and benchmark."""
    fields = (record.get("result") or {}).get("fields") or {}
    expected = truth["fields"]
    assert fields.get("nik") == expected["nik"], "nik differs"
    assert fields.get("date_of_birth") == expected["date_of_birth"], "date_of_birth differs"
    assert (fields.get("full_name") or "").replace(" ", "") == expected["full_name"].replace(" ", ""), "full_name differs"
    wrong = [name for name in CONTRACT_FIELDS if fields.get(name, "") != expected.get(name, "")]
    assert len(wrong) <= 3, f"fields read wrongly on a clean card: {wrong}"


def test_cards_complete_and_bad_images_are_rejected_or_failed(stack: LocalStack, card_factory) -> None:
    jobs = stack.jobs
    cards = {}
    for seed in (101, 202, 303):
        image, truth = card_factory(seed)
        cards[jobs.upload_bytes(image, f"batch 1/kartu {seed}.jpg").reference_id] = truth
    no_ktp = jobs.upload_bytes(jpeg_bytes(1280, 860), "batch 1/holiday photo.jpg").reference_id
    too_small = jobs.upload_bytes(jpeg_bytes(400, 260), "batch 1/thumbnail.jpg").reference_id

    records = jobs.wait_terminal([*cards, no_ktp, too_small], timeout_seconds=OCR_TIMEOUT)
    assert all(record and record["status"] in ("COMPLETED", "FAILED", "REJECTED") for record in records.values()), describe(records)

    for reference_id, truth in cards.items():
        record = records[reference_id]
        assert record["status"] == "COMPLETED", describe(records)
        assert record["object_key"].startswith("incoming/batch 1/kartu ")
        assert_fields_match(record, truth)
        assert "pending_shard" not in record
        assert "next_check_at" not in record  # off the poller's index
    assert (records[no_ktp]["status"], records[no_ktp]["error_code"]) == ("FAILED", "KTP_NOT_DETECTED")
    assert (records[too_small]["status"], records[too_small]["error_code"]) == ("REJECTED", "INVALID_PAYLOAD_IMAGE_SIZE")

    submits = stack.tap.submits()
    assert all(submits[ref] == 1 for ref in [*cards, no_ktp]), submits
    assert submits[too_small] == 0  # rejected before it reached the provider


def test_same_event_delivered_twice_makes_one_provider_job(stack: LocalStack, card_factory) -> None:
    image, truth = card_factory(404)
    jobs = stack.jobs
    key = jobs.key_for("dup/event.jpg")
    handled_before = stack.submit_worker.processed
    put = stack.aws_client("s3").put_object(Bucket=stack.info.bucket, Key=key, Body=image, ContentType="image/jpeg")
    from local.jobs import reference_id_for

    reference_id = reference_id_for(stack.info.bucket, key, put.get("VersionId"), put["ETag"])
    # S3 delivers at least once: the same notification twice more, racing the original.
    body = s3_event_body(stack.info.bucket, key, etag=put["ETag"], version_id=put.get("VersionId"),
                         size=len(image), region=stack.region)
    stack.deliver_raw_event(body)
    stack.deliver_raw_event(body)

    record = jobs.wait_terminal([reference_id], timeout_seconds=OCR_TIMEOUT)[reference_id]
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert_fields_match(record, truth)
    wait_for(lambda: stack.submit_worker.processed >= handled_before + 3, timeout=60, what="all three deliveries handled")
    assert stack.tap.submits()[reference_id] == 1
    assert [item["reference_id"] for item in jobs.recent() if item.get("object_key") == key] == [reference_id]


def test_same_object_uploaded_twice_is_one_provider_job(stack: LocalStack, card_factory) -> None:
    """The bucket is versioned, so a second PUT of the same bytes is a new S3 object version with
    its own event; the job id follows the content, so it is the same job and one provider job."""
    image, truth = card_factory(505)
    jobs = stack.jobs
    handled_before = stack.submit_worker.processed
    first = jobs.upload_bytes(image, "dup/uploaded twice.jpg")
    second = jobs.upload_bytes(image, "dup/uploaded twice.jpg")
    assert first.reference_id == second.reference_id

    record = jobs.wait_terminal([first.reference_id], timeout_seconds=OCR_TIMEOUT)[first.reference_id]
    assert record and record["status"] == "COMPLETED", describe({first.reference_id: record})
    assert_fields_match(record, truth)
    wait_for(lambda: stack.submit_worker.processed >= handled_before + 2, timeout=60, what="both uploads' events handled")
    assert stack.tap.submits()[first.reference_id] == 1
    assert [item["reference_id"] for item in jobs.recent() if item.get("object_key") == first.key] == [first.reference_id]


def assert_the_poller_completes_a_card_whose_callbacks_are_refused(stack: LocalStack, card: tuple[bytes, dict],
                                                                    name: str) -> dict:
    """Upload ``card`` while the stack's callback endpoint refuses every call: the poller completes it
    (its record is returned)."""
    image, truth = card
    refused_before = stack.callback_endpoint.refused
    stack.refuse_callbacks(True)
    try:
        reference_id = stack.jobs.upload_bytes(image, name).reference_id
        record = stack.jobs.wait_terminal([reference_id], timeout_seconds=RECOVERY_TIMEOUT)[reference_id]
    finally:
        stack.refuse_callbacks(False)
    assert record is not None and record["status"] == "COMPLETED", record and record.get("status")
    assert record["result_source"] == "poll"
    assert stack.callback_endpoint.refused > refused_before  # the extractor did try to call back
    assert_fields_match(record, truth)
    return record


def test_refused_callbacks_are_completed_by_the_poller(stack: LocalStack, card_factory) -> None:
    record = assert_the_poller_completes_a_card_whose_callbacks_are_refused(
        stack, card_factory(606), "faults/callback refused.jpg")
    assert stack.tap.submits()[record["reference_id"]] == 1


def test_extractor_down_then_back_recovers_jobs(stack: LocalStack, card_factory) -> None:
    jobs = stack.jobs
    # The OCR worker is frozen first, so the three jobs are surely still in flight when the provider
    # dies, however slow or busy the machine is (the HTTP side still accepts them).
    assert stack.extractor is not None and stack.extractor.pid is not None
    ocr_workers = [pid for pid, command in descendants(stack.extractor.pid).items() if "multiprocessing" in command]
    assert ocr_workers, descendants(stack.extractor.pid)
    for pid in ocr_workers:
        os.kill(pid, signal.SIGSTOP)
    in_flight_cards = {jobs.upload_bytes(image, f"faults/in flight {seed}.jpg").reference_id: truth
                       for seed in (707, 717, 727) for image, truth in [card_factory(seed)]}
    while_down_image, while_down_truth = card_factory(808)

    # Three jobs reach the provider (its OCR worker frozen: they queue up), which then dies abruptly.
    def all_accepted() -> bool:
        accepted = {call.reference_id for call in list(stack.tap.calls) if call.method == "POST" and call.status == 200}
        return set(in_flight_cards) <= accepted

    wait_for(all_accepted, timeout=60, what="the provider to accept the first three jobs", interval=0.02)
    stack.stop_extractor(crash=True)
    at_crash = {ref: (jobs.get(ref) or {}).get("status") for ref in in_flight_cards}
    assert all(status != "COMPLETED" for status in at_crash.values()), f"a job was not in flight: {at_crash}"
    # Another arrives while the provider is down: the submit cannot reach it.
    while_down = jobs.upload_bytes(while_down_image, "faults/while down.jpg").reference_id
    wait_for(lambda: (jobs.get(while_down) or {}).get("status") == "RETRY", timeout=60, what="the upload to be RETRY")

    stack.start_extractor()
    records = jobs.wait_terminal([*in_flight_cards, while_down], timeout_seconds=RECOVERY_TIMEOUT)
    assert all(record and record["status"] == "COMPLETED" for record in records.values()), describe(records)
    for reference_id, truth in in_flight_cards.items():
        assert_fields_match(records[reference_id], truth)
    assert_fields_match(records[while_down], while_down_truth)
    # The first attempt failed (RETRY), the poller's resubmission is the one that reached the provider.
    assert records[while_down]["retry_count"] >= 1
    assert records[while_down]["submit_attempts"] == 1
    assert records[while_down].get("error_code") is None  # the RETRY's code did not survive COMPLETED
    submits = stack.tap.submits()
    assert all(submits[ref] == 1 for ref in [*in_flight_cards, while_down]), submits  # never twice


def test_cli_reads_the_running_stack(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from ktp.cli import main

    data_dir = str(stack.data_dir)
    assert main(["results", "--data-dir", data_dir, "--status", "COMPLETED", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines
    assert all(record["status"] == "COMPLETED" for record in lines)
    nik = lines[0]["result"]["fields"]["nik"]
    assert "*" in nik  # masked unless --show-nik

    reference_id = lines[0]["reference_id"]
    assert main(["status", reference_id, "--data-dir", data_dir, "--json", "--show-nik"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reference_id"] == reference_id
    assert shown["result"]["fields"]["nik"].isdigit()
    assert main(["status", "ktp-does-not-exist", "--data-dir", data_dir]) == 1


def test_functions_get_the_templates_environment_pointed_at_local_endpoints(stack: LocalStack) -> None:
    assert stack.resources is not None
    info = stack.info
    for logical_id, function in stack.functions.items():
        env = function.config.environment
        template_env = stack.resources.functions[logical_id].environment  # as CloudFormation resolved it
        assert env["AWS_ENDPOINT_URL"] == info.endpoint_url
        assert env["JOBS_TABLE_NAME"] == info.table
        assert env["AWS_LAMBDA_FUNCTION_NAME"].startswith(f"{stack.stack_name}-{logical_id}-")  # CloudFormation's name
        # Only variables the template gives the function are redirected; none are invented.
        assert ("CALLBACK_URL" in env) == ("CALLBACK_URL" in template_env)
        assert ("PROVIDER_BASE_URL" in env) == ("PROVIDER_BASE_URL" in template_env)
        if "CALLBACK_URL" in env:
            assert env["CALLBACK_URL"] == info.callback_url
            assert env["PROVIDER_BASE_URL"] == stack.tap.url  # the recording proxy, then the extractor
        for name, value in template_env.items():
            if name not in ("AWS_ENDPOINT_URL", "CALLBACK_URL", "PROVIDER_BASE_URL", *stack.function_env):
                assert env[name] == value, name
