"""Issue 11 end to end on one local stack (the real extractor and OCR, `ktp` run as its own process):

1. a generated card, uploaded under a file name that is its NIK, completes;
2. its completion event reaches the stack's events queue (once);
3. `ktp status --object s3://bucket/key` finds it;
4. `ktp erase --nik` removes the record's personal data, the object's versions and the extractor's
   copy, and leaves an erasure record; the erasure's writes emit no completion event;
5. a second card, uploaded while the extractor is down, ends TIMED_OUT; `ktp redrive` starts
   attempt 2, which completes and emits its own event (the link write on attempt 1 emits none).

Then no log of the stack (stack, functions, extractor) and no CLI output (tables and --json) holds
either card's NIK. Every wait is bounded; nothing asserts on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.completion_events import receive_events
from local.stack import LocalStack

from .conftest import SHORT_DEADLINE_SECONDS, describe, new_stack

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = SHORT_DEADLINE_SECONDS
OCR_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with new_stack(tmp_path_factory.mktemp("issue11-stack"), JOB_DEADLINE_SECONDS=str(DEADLINE_SECONDS)) as local_stack:
        yield local_stack


def _ktp(outputs: list[tuple[tuple[str, ...], str]], *argv: str, stdin: str | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m ktp ARGV`; its stdout and stderr are kept (with the argv, which may hold a NIK
    the test itself passed) for the final NIK check."""
    run = subprocess.run([sys.executable, "-m", "ktp", *argv], capture_output=True, text=True, input=stdin,
                         env={**os.environ, "COLUMNS": "200"}, timeout=timeout, check=False)
    outputs.append((argv, run.stdout + run.stderr))
    return run


def _events(stack: LocalStack, wanted: set[str], timeout: float) -> list[dict]:
    """Completion events from the stack's standing queue until each wanted reference_id is seen."""
    sqs = stack.aws_client("sqs")
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= {e["detail"]["reference_id"] for e in seen}:
        seen += receive_events(sqs, stack.resources.completion_events_queue_url, wait_seconds=1)
    return seen


def _by_id(events: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for event in events:
        grouped.setdefault(event["detail"]["reference_id"], []).append(event)
    return grouped


def test_upload_event_lookup_erase_and_redrive_without_the_nik_anywhere(stack: LocalStack, tmp_path: Path) -> None:
    from extractor.synth import generate_card

    outputs: list[tuple[tuple[str, ...], str]] = []
    data = ("--data-dir", str(stack.data_dir))
    bucket, jobs = stack.info.bucket, stack.jobs
    secrets: set[str] = set()

    # 1. Upload a card named after its NIK and wait for it.
    image, truth = generate_card(20261111, "clean")
    nik = truth["fields"]["nik"]
    (tmp_path / f"{nik}.jpg").write_bytes(image)
    upload = _ktp(outputs, "upload", str(tmp_path / f"{nik}.jpg"), "--wait", "--timeout", str(int(OCR_TIMEOUT)), *data)
    assert upload.returncode == 0, upload.stderr[-2000:]
    (record,) = [r for r in (jobs.get(str(e["reference_id"])) for e in jobs.index_entries("COMPLETED"))
                 if r and nik in r.get("object_key", "")]
    ref, key = record["reference_id"], record["object_key"]
    assert record["status"] == "COMPLETED", describe({ref: record})
    secrets |= {nik, record["result"]["fields"]["nik"]}

    # 2. Its completion event, exactly once.
    events = _events(stack, {ref}, timeout=30)
    (event,) = _by_id(events)[ref]
    assert event["detail-type"] == "COMPLETED" and event["detail"]["finished_at"] == record["completed_at"]

    # 3. Lookup by object, table and --json.
    by_object = (f"s3://{bucket}/{key}",)
    table = _ktp(outputs, "status", "--object", *by_object, *data)
    assert table.returncode == 0 and ref in table.stdout, table.stdout + table.stderr[-2000:]
    shown = _ktp(outputs, "status", "--object", *by_object, "--json", *data)
    assert shown.returncode == 0, shown.stderr[-2000:]
    shown = json.loads(shown.stdout)
    assert [a["reference_id"] for a in shown["attempts"]] == [ref] and shown["latest"]["status"] == "COMPLETED"

    # 4. Erase by NIK (read from stdin, so it is not in the process list either).
    s3 = stack.aws_client("s3")
    assert s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions")
    credentials = json.loads((stack.data_dir / "credentials.json").read_text())
    extractor = httpx.Client(base_url=stack.info.extractor_url, trust_env=False, timeout=30,
                             headers={"App-ID": credentials["app_id"], "API-Key": credentials["api_key"]})
    assert extractor.get("/ktp/id/extract-async/result", params={"reference_id": ref}).status_code == 200
    erase = _ktp(outputs, "erase", "--nik", "-", "--json", *data, stdin=record["result"]["fields"]["nik"] + "\n")
    assert erase.returncode == 0, erase.stderr[-2000:]
    report = json.loads(erase.stdout)
    assert (report["jobs_found"], report["jobs_erased"], report["object_versions_deleted"]) == (1, 1, 1)
    assert report["provider_copies"] == {"deleted": 1}
    erased = jobs.get(ref)
    assert not {"result", "nik_hash", "object_key", "object_etag"} & set(erased)
    assert erased["status"] == "COMPLETED" and erased["erasure_id"] == report["erasure_id"]
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    assert extractor.get("/ktp/id/extract-async/result", params={"reference_id": ref}).status_code == 404
    erasure = jobs.get(report["reference_id"])
    assert erasure["record_type"] == "erasure" and erasure["jobs_erased"] == 1
    # The erased job no longer answers to its object (the key was personal data and is gone).
    after = _ktp(outputs, "status", "--object", *by_object, *data)
    assert after.returncode == 1 and "no job" in after.stdout, after.stdout + after.stderr[-2000:]

    # 5. A second card while the extractor is down: TIMED_OUT; re-driven, it completes.
    image2, truth2 = generate_card(20261112, "clean")
    nik2 = truth2["fields"]["nik"]
    secrets.add(nik2)
    stack.stop_extractor()
    try:
        first = jobs.upload_bytes(image2, f"e2e/{nik2}.jpg")
        timed_out = jobs.wait_terminal([first.reference_id], timeout_seconds=DEADLINE_SECONDS + 120)[first.reference_id]
        assert timed_out and timed_out["status"] == "TIMED_OUT", describe({first.reference_id: timed_out})
    finally:
        stack.start_extractor()
    redrive = _ktp(outputs, "redrive", first.reference_id, *data)
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr[-2000:]
    successor = jobs.get(first.reference_id)["successor_id"]
    done = jobs.wait_terminal([successor], timeout_seconds=OCR_TIMEOUT)[successor]
    assert done and done["status"] == "COMPLETED", describe({successor: done})
    assert (done["attempt"], done["predecessor_id"], done["attempt_cause"]) == (2, first.reference_id, "redrive")
    secrets.add(done["result"]["fields"]["nik"])

    events += _events(stack, {first.reference_id, successor}, timeout=30)
    events += _events(stack, {"none"}, timeout=2)  # anything late (a link or erasure write) within a few polls
    grouped = _by_id(events)
    assert [e["detail-type"] for e in grouped[first.reference_id]] == ["TIMED_OUT"]
    assert [e["detail-type"] for e in grouped[successor]] == ["COMPLETED"]
    assert set(grouped) == {ref, first.reference_id, successor}, sorted(grouped)  # no event for erasure writes

    # Every read command on the re-driven job, tables and --json.
    object2 = f"s3://{bucket}/{first.key}"
    for argv in (("status", successor), ("status", successor, "--json"), ("status", successor[:22]),
                 ("status", "--object", object2), ("status", "--object", object2, "--json"),
                 ("results",), ("results", "--json"), ("results", "--status", "completed", "--json"),
                 ("watch", "--once"), ("watch", "--events", "--once", "--json")):
        run = _ktp(outputs, *argv, *data)
        assert run.returncode == 0, (argv, run.stderr[-2000:])
        if argv[-2:] == ("--object", object2):
            assert successor in run.stdout, run.stdout
        if argv[-1] == "--json" and "--object" in argv:
            assert "*" in json.loads(run.stdout)["latest"]["result"]["fields"]["nik"]  # masked

    # No CLI output, no event and no log of the stack has a NIK.
    logs = [p for p in Path(stack.data_dir, "logs").rglob("*") if p.is_file()]
    assert {p.name for p in logs} >= {"extractor.log"} and len(logs) > 1, [p.name for p in logs]
    texts = {**{f"{i}: ktp " + " ".join(argv[:4]): text for i, (argv, text) in enumerate(outputs)}, "events": json.dumps(events),
             **{f"log {p.name}": p.read_text(errors="replace") for p in logs}}
    secrets -= {""}
    leaks = sorted(name for name, text in texts.items() if any(secret in text for secret in secrets))
    assert not leaks, [(name, texts[name][:2000]) for name in leaks]
