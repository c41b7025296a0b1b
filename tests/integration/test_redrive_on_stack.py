"""Attempts on the local stack: a TIMED_OUT job re-driven with `ktp redrive` completes; the same
bytes uploaded again after FAILED start a new attempt; after COMPLETED they are a duplicate.
Every wait is bounded; nothing asserts on time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from local.stack import LocalStack

from .conftest import SHORT_DEADLINE_SECONDS, describe, jpeg_bytes, new_stack, wait_for

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = SHORT_DEADLINE_SECONDS
OCR_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with new_stack(tmp_path_factory.mktemp("redrive-stack"), JOB_DEADLINE_SECONDS=str(DEADLINE_SECONDS)) as local_stack:
        yield local_stack


def _ktp(capsys, *argv: str) -> tuple[int, str]:
    from ktp.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().out


def test_timed_out_job_redriven_completes_and_a_reupload_after_that_is_a_duplicate(stack, card_factory, capsys):
    jobs, data_dir = stack.jobs, str(stack.data_dir)
    image, _truth = card_factory(911)
    stack.stop_extractor()
    try:
        first = jobs.upload_bytes(image, "redrive/timed out.jpg")
        record = jobs.wait_terminal([first.reference_id], timeout_seconds=DEADLINE_SECONDS + 120)[first.reference_id]
        assert record and record["status"] == "TIMED_OUT", describe({first.reference_id: record})
    finally:
        stack.start_extractor()

    code, out = _ktp(capsys, "redrive", "--data-dir", data_dir, "--status", "timed_out,FAILED", "--since", "1h")
    assert code == 0, out
    successor = jobs.get(first.reference_id)["successor_id"]
    assert successor in out
    done = jobs.wait_terminal([successor], timeout_seconds=OCR_TIMEOUT)[successor]
    assert done and done["status"] == "COMPLETED", describe({successor: done})
    assert (done["attempt"], done["predecessor_id"], done["attempt_cause"]) == (2, first.reference_id, "redrive")
    assert jobs.get(first.reference_id)["status"] == "TIMED_OUT"  # the old record is kept
    assert stack.tap.submits()[successor] == 1

    # Re-driving the old id again, or uploading the same bytes again, starts nothing: attempt 2 completed.
    code, out = _ktp(capsys, "redrive", "--data-dir", data_dir, first.reference_id)
    assert code == 1 and "COMPLETED" in out
    handled = stack.submit_worker.processed
    jobs.upload_bytes(image, "redrive/timed out.jpg")
    wait_for(lambda: stack.submit_worker.processed > handled, timeout=60, what="the re-upload's event handled")
    assert stack.tap.submits()[successor] == 1
    assert jobs.get(successor).get("successor_id") is None

    # Lookup by object finds both attempts without the hash.
    code, out = _ktp(capsys, "status", "--data-dir", data_dir, "--object", f"s3://{stack.info.bucket}/{first.key}", "--json")
    assert code == 0
    shown = json.loads(out)
    assert [(a["attempt"], a["reference_id"]) for a in shown["attempts"]] == [(1, first.reference_id), (2, successor)]
    assert shown["latest"]["status"] == "COMPLETED"
    assert "*" in shown["latest"]["result"]["fields"]["nik"]  # masked


def test_reupload_after_failed_is_a_new_attempt(stack):
    jobs = stack.jobs
    photo = jpeg_bytes(1280, 860)  # no KTP on it: the provider fails it (KTP_NOT_DETECTED)
    first = jobs.upload_bytes(photo, "redrive/holiday.jpg")
    record = jobs.wait_terminal([first.reference_id], timeout_seconds=OCR_TIMEOUT)[first.reference_id]
    assert record and record["status"] == "FAILED", describe({first.reference_id: record})

    jobs.upload_bytes(photo, "redrive/holiday.jpg")  # "upload again"
    wait_for(lambda: bool((jobs.get(first.reference_id) or {}).get("successor_id")), timeout=60,
             what="the re-upload to start attempt 2")
    successor = jobs.get(first.reference_id)["successor_id"]
    second = jobs.wait_terminal([successor], timeout_seconds=OCR_TIMEOUT)[successor]
    assert second and second["status"] == "FAILED" and second["attempt"] == 2
    assert second["attempt_cause"] == "reupload" and second["object_version_id"] != record["object_version_id"]
    submits = stack.tap.submits()
    assert (submits[first.reference_id], submits[successor]) == (1, 1)


def test_failed_submits_are_sent_to_the_submit_function_again(stack, capsys):
    from local.jobs import reference_id_for

    from .conftest import s3_event_body

    # An upload outside the notified prefix: no event reaches the submitter, as if it had failed.
    photo = jpeg_bytes(1300, 870)
    key = "not-notified/replayed.jpg"
    put = stack.aws_client("s3").put_object(Bucket=stack.info.bucket, Key=key, Body=photo, ContentType="image/jpeg")
    reference_id = reference_id_for(stack.info.bucket, key, put.get("VersionId"), put["ETag"])
    body = s3_event_body(stack.info.bucket, key, etag=put["ETag"], version_id=put.get("VersionId"),
                         size=len(photo), region=stack.region)
    failure_queue = stack.resources.physical_ids["SubmitFailureQueue"]
    sqs = stack.aws_client("sqs")
    sqs.send_message(QueueUrl=failure_queue, MessageBody=json.dumps({"requestPayload": json.loads(body)}))
    assert stack.jobs.get(reference_id) is None

    code, out = _ktp(capsys, "redrive", "--data-dir", str(stack.data_dir), "--failed-submits")
    assert code == 0 and "1 S3 event(s) sent" in out, out
    record = stack.jobs.wait_terminal([reference_id], timeout_seconds=OCR_TIMEOUT)[reference_id]
    assert record and record["status"] == "FAILED", describe({reference_id: record})  # not a KTP: processed
    attributes = sqs.get_queue_attributes(QueueUrl=failure_queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
