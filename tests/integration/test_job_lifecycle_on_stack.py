"""A job's whole life on one local stack (`ktp up`'s LocalStack, the real extractor and OCR, every
`ktp` command through the CLI's own entry point), and the NIK nowhere it should not be:

1. a generated card, uploaded under a file name that is its NIK, completes;
2. its completion event reaches the stack's events queue (once);
3. every job command on it (status by id, prefix and `--object`, extract, redrive; table and
   --json) masks the NIK; `--show-nik` is the one way to see it; a COMPLETED job is not re-driven;
4. `ktp erase --nik` (the EraseFunction in the local function runtime) removes the record's personal
   data, the object's versions and the extractor's copy, and leaves an erasure record; erasing again
   by reference id finds nothing left; the erasure's writes emit no completion event;
5. a second card, uploaded while the extractor is down, ends TIMED_OUT; `ktp redrive --status`
   starts attempt 2, which completes and emits its own event (the link write on attempt 1 emits
   none); re-driving attempt 1 again, or uploading the same bytes again, starts nothing;
6. the read commands (status, results, watch; table and --json) over the table as it is now (an
   erased, a timed-out and a re-driven job).

Then no log of the stack (stack, functions, extractor), no event and no CLI output holds either
card's NIK. Every wait is bounded; nothing asserts on time. One stack and one test: the steps build
on one another, and each stack start costs seconds of CPU. The module's other tests, on the same
stack after it, are about attempts too: the same bytes uploaded again after FAILED start a new one,
and `ktp redrive --failed-submits` sends failed submits to the submit function again.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpx
import pytest

from local.stack import LocalStack

from .conftest import SHORT_DEADLINE_SECONDS, completion_events, describe, events_by_id, jpeg_bytes, new_stack, wait_for

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = SHORT_DEADLINE_SECONDS
OCR_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with new_stack(tmp_path_factory.mktemp("lifecycle-stack"), JOB_DEADLINE_SECONDS=str(DEADLINE_SECONDS)) as local_stack:
        yield local_stack


class Cli:
    """`ktp ARGV` through `ktp.cli.main`, in this process: each command as its own process cost ~0.7 s
    of CPU (imports, clients), ~20 s over this test. Every output is kept (with the argv, which may hold
    a NIK the test itself passed) for the final NIK check: stdout, stderr, and every log record any
    logger emits during the command (a process of its own would print warnings to stderr)."""

    def __init__(self, data_dir: Path) -> None:
        self.data = ("--data-dir", str(data_dir))
        self.outputs: list[tuple[tuple[str, ...], str]] = []

    def __call__(self, *argv: str, stdin: str | None = None, on_stack: bool = True,
                 keep: bool = True) -> subprocess.CompletedProcess:
        from ktp.cli import main

        argv = (*argv, *self.data) if on_stack else argv
        stdout, stderr = io.StringIO(), io.StringIO()
        records = logging.StreamHandler(stderr)
        logging.getLogger().addHandler(records)
        try:
            with (mock.patch.object(sys, "stdin", io.StringIO(stdin or "")), mock.patch.dict(os.environ, COLUMNS="200"),
                  contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr)):
                try:
                    code = main(list(argv))
                except SystemExit as exit:  # argparse, or a command's own exit: a message goes to stderr, as Python does
                    code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
                    if not isinstance(exit.code, int | None):
                        print(exit.code, file=sys.stderr)
        finally:
            logging.getLogger().removeHandler(records)
        run = subprocess.CompletedProcess(("ktp", *argv), code, stdout.getvalue(), stderr.getvalue())
        if keep:
            self.outputs.append((argv, run.stdout + run.stderr))
        return run


def _sub_commands() -> set[str]:
    from ktp.cli import build_parser

    (group,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(group.choices)


def _extractor_client(stack: LocalStack) -> httpx.Client:
    credentials = json.loads((stack.data_dir / "credentials.json").read_text())
    return httpx.Client(base_url=stack.info.extractor_url, trust_env=False, timeout=30,
                        headers={"App-ID": credentials["app_id"], "API-Key": credentials["api_key"]})


def test_a_job_from_upload_to_erasure_and_redrive_without_the_nik_anywhere(stack: LocalStack, tmp_path: Path) -> None:
    from extractor.synth import generate_card

    ktp = Cli(stack.data_dir)
    bucket, jobs = stack.info.bucket, stack.jobs
    secrets: set[str] = set()

    # 1. Upload a card named after its NIK and wait for it.
    image, truth = generate_card(20261111, "clean")
    nik = truth["fields"]["nik"]
    card = tmp_path / f"{nik}.jpg"
    card.write_bytes(image)
    upload = ktp("upload", str(card), "--wait", "--timeout", str(int(OCR_TIMEOUT)))
    assert upload.returncode == 0, upload.stderr[-2000:]
    (record,) = [r for r in (jobs.get(str(e["reference_id"])) for e in jobs.index_entries("COMPLETED"))
                 if r and nik in r.get("object_key", "")]
    ref, key = record["reference_id"], record["object_key"]
    assert record["status"] == "COMPLETED", describe({ref: record})
    extracted = record["result"]["fields"]["nik"]
    secrets |= {nik, extracted}

    # 2. Its completion event, exactly once.
    events = completion_events(stack, {ref}, timeout=30)
    (event,) = events_by_id(events)[ref]
    assert event["detail-type"] == "COMPLETED" and event["detail"]["finished_at"] == record["completed_at"]

    # 3. Every job command on it masks the NIK.
    by_object = f"s3://{bucket}/{key}"
    runs = {
        "status": ktp("status", ref),
        "status --json": ktp("status", ref, "--json"),
        "status prefix": ktp("status", ref[:22]),
        "status --object": ktp("status", "--object", by_object),
        "status --object --json": ktp("status", "--object", by_object, "--json"),
        "extract": ktp("extract", str(card), on_stack=False),
        "extract --json": ktp("extract", "--json", str(card), on_stack=False),
    }
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stdout[-2000:], run.stderr[-2000:])
    assert ref in runs["status --object"].stdout, runs["status --object"].stdout
    found = json.loads(runs["status --object --json"].stdout)
    assert [a["reference_id"] for a in found["attempts"]] == [ref] and found["latest"]["status"] == "COMPLETED"
    shown = json.loads(runs["status --json"].stdout)
    assert shown["result"]["fields"]["nik"] != extracted and shown["result"]["fields"]["nik"].endswith(extracted[-4:])
    # A COMPLETED job is not re-driven: the command says so (exit 1) and prints the ids.
    redrive_done = ktp("redrive", ref)
    assert redrive_done.returncode == 1 and "COMPLETED" in redrive_done.stdout, redrive_done.stdout + redrive_done.stderr[-2000:]
    # ... and --show-nik is the one way to see the NIK (its output is the one not checked below).
    assert extracted in ktp("status", ref, "--json", "--show-nik", keep=False).stdout
    # Step 6 runs results and watch; erase and upload run here too. Not run: servers (up, serve: they
    # print no records; the stack's logs are grepped below), synth (writes files, prints counts) and
    # demo (uploads its own cards and prints them with the results table). A new sub-command fails
    # this until it is checked here.
    checked = {"upload", "status", "extract", "redrive", "erase", "results", "watch"}
    assert checked | {"up", "serve", "synth", "demo"} >= _sub_commands(), "a new sub-command needs a masking check here"

    # 4. Erase by NIK (read from stdin, so it is not in the process list either).
    s3 = stack.aws_client("s3")
    assert s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions")
    extractor = _extractor_client(stack)
    assert extractor.get("/ktp/id/extract-async/result", params={"reference_id": ref}).status_code == 200
    erase = ktp("erase", "--nik", "-", "--json", stdin=extracted + "\n")
    assert erase.returncode == 0, erase.stderr[-2000:]
    report = json.loads(erase.stdout)
    assert report["ok"] and report["request_kind"] == "nik", report
    assert (report["jobs_found"], report["jobs_erased"], report["jobs_pending"]) == (1, 1, 0), report
    assert report["object_versions_deleted"] == 1, report
    assert report["provider_copies"] == {"deleted": 1}, report
    erased = jobs.get(ref)
    assert not {"result", "nik_hash", "object_key", "object_etag"} & set(erased), sorted(erased)
    assert erased["status"] == "COMPLETED" and erased["erasure_id"] == report["erasure_id"], describe({ref: erased})
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers"), listing
    gone = extractor.get("/ktp/id/extract-async/result", params={"reference_id": ref})
    assert gone.status_code == 404 and gone.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND", gone.text
    erasure = jobs.get(report["reference_id"])
    assert erasure["record_type"] == "erasure" and erasure["jobs_erased"] == 1, describe({report["reference_id"]: erasure})
    # Erasing again by reference id: nothing personal is left, the provider no longer knows it.
    again = ktp("erase", "--reference-id", ref)
    assert again.returncode == 0 and "not_found 1" in again.stdout, again.stdout + again.stderr[-2000:]
    # The erased job no longer answers to its object (the key was personal data and is gone).
    after = ktp("status", "--object", by_object)
    assert after.returncode == 1 and "no job" in after.stdout, after.stdout + after.stderr[-2000:]

    # 5. A second card while the extractor is down: TIMED_OUT; re-driven, it completes.
    image2, truth2 = generate_card(20261112, "clean")
    nik2 = truth2["fields"]["nik"]
    name2 = f"e2e/{nik2}.jpg"
    secrets.add(nik2)
    stack.stop_extractor()
    try:
        first = jobs.upload_bytes(image2, name2)
        timed_out = jobs.wait_terminal([first.reference_id], timeout_seconds=DEADLINE_SECONDS + 120)[first.reference_id]
        assert timed_out and timed_out["status"] == "TIMED_OUT", describe({first.reference_id: timed_out})
    finally:
        stack.start_extractor()
    redrive = ktp("redrive", "--status", "timed_out,FAILED", "--since", "1h")
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr[-2000:]
    successor = jobs.get(first.reference_id)["successor_id"]
    assert successor in redrive.stdout, redrive.stdout
    done = jobs.wait_terminal([successor], timeout_seconds=OCR_TIMEOUT)[successor]
    assert done and done["status"] == "COMPLETED", describe({successor: done})
    assert (done["attempt"], done["predecessor_id"], done["attempt_cause"]) == (2, first.reference_id, "redrive")
    assert jobs.get(first.reference_id)["status"] == "TIMED_OUT"  # the old record is kept
    assert stack.tap.submits()[successor] == 1
    secrets.add(done["result"]["fields"]["nik"])
    # Re-driving the old id again, or uploading the same bytes again, starts nothing: attempt 2 completed.
    redrive_again = ktp("redrive", first.reference_id)
    assert redrive_again.returncode == 1 and "COMPLETED" in redrive_again.stdout, redrive_again.stdout + redrive_again.stderr[-2000:]
    handled = stack.submit_worker.processed
    assert jobs.upload_bytes(image2, name2).reference_id == first.reference_id
    wait_for(lambda: stack.submit_worker.processed > handled, timeout=60, what="the re-upload's event handled")
    assert stack.tap.submits()[successor] == 1
    assert jobs.get(successor).get("successor_id") is None

    events += completion_events(stack, {first.reference_id, successor}, timeout=30)
    events += completion_events(stack, {"none"}, timeout=2)  # anything late (a link or erasure write) within a few polls
    grouped = events_by_id(events)
    assert [e["detail-type"] for e in grouped[first.reference_id]] == ["TIMED_OUT"]
    assert [e["detail-type"] for e in grouped[successor]] == ["COMPLETED"]
    assert set(grouped) == {ref, first.reference_id, successor}, sorted(grouped)  # no event for erasure writes

    # 6. Every read command over the table as it is now, tables and --json.
    object2 = f"s3://{bucket}/{first.key}"
    for argv in (("status", successor), ("status", successor, "--json"), ("status", successor[:22]),
                 ("status", "--object", object2), ("status", "--object", object2, "--json"),
                 ("results",), ("results", "--json"), ("results", "--status", "completed", "--json"),
                 ("watch", "--once"), ("watch", "--events", "--once", "--json")):
        run = ktp(*argv)
        assert run.returncode == 0, (argv, run.stderr[-2000:])
        if argv == ("results", "--json"):
            listed = {json.loads(line)["reference_id"] for line in run.stdout.splitlines()}
            assert {ref, first.reference_id, successor} <= listed, sorted(listed)
        if argv[-2:] == ("--object", object2):
            assert successor in run.stdout, run.stdout
        if argv[-1] == "--json" and "--object" in argv:  # both attempts, found without the hash
            shown = json.loads(run.stdout)
            assert [(a["attempt"], a["reference_id"]) for a in shown["attempts"]] == [(1, first.reference_id), (2, successor)]
            assert "*" in shown["latest"]["result"]["fields"]["nik"]  # masked

    # No CLI output, no event, no record left by the erasure and no log of the stack has a NIK.
    logs = [p for p in Path(stack.data_dir, "logs").rglob("*") if p.is_file()]
    assert {p.name for p in logs} >= {"extractor.log", "EraseFunction.log"}, [p.name for p in logs]
    texts = {**{f"{i}: ktp " + " ".join(argv[:4]): text for i, (argv, text) in enumerate(ktp.outputs)},
             "events": json.dumps(events), "erased record": json.dumps(jobs.get(ref)),
             "erasure record": json.dumps(erasure),
             **{f"log {p.name}": p.read_text(errors="replace") for p in logs}}
    secrets -= {""}
    leaks = sorted(name for name, text in texts.items() if any(secret in text for secret in secrets))
    assert not leaks, [(name, texts[name][:2000]) for name in leaks]


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


def test_failed_submits_are_sent_to_the_submit_function_again(stack):
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

    run = Cli(stack.data_dir)("redrive", "--failed-submits")
    assert run.returncode == 0 and "1 S3 event(s) sent" in run.stdout, run.stdout
    record = stack.jobs.wait_terminal([reference_id], timeout_seconds=OCR_TIMEOUT)[reference_id]
    assert record and record["status"] == "FAILED", describe({reference_id: record})  # not a KTP: processed
    attributes = sqs.get_queue_attributes(QueueUrl=failure_queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
