"""Erasure and masking on a running local stack (`ktp up`'s LocalStack, the real extractor and OCR):

a generated card, uploaded under a file name that is its NIK, ends COMPLETED; every job sub-command
(upload, status and status --object, results, watch, redrive, erase; table and --json) is run as its
own process and none prints the NIK; `ktp erase --nik` (through the EraseFunction in the local
function runtime) leaves a record without personal data, no object version, an extractor that no
longer knows the job, and an erasure record; no log of the stack holds the NIK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local.stack import LocalStack

pytestmark = pytest.mark.slow


def _ktp(*argv: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ktp", *argv], capture_output=True, text=True, input=stdin,
                          env=env, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def completed(stack: LocalStack, tmp_path_factory) -> dict:
    from extractor.synth import generate_card

    image, truth = generate_card(20261202, "clean")
    nik = truth["fields"]["nik"]
    folder = tmp_path_factory.mktemp("cards")
    (folder / f"{nik}.jpg").write_bytes(image)
    upload = _ktp("upload", str(folder / f"{nik}.jpg"), "--wait", "--timeout", "240", "--data-dir", str(stack.data_dir))
    assert upload.returncode == 0, upload.stderr[-2000:]
    (record,) = [r for r in (stack.jobs.get(ref) for ref in _listed_ids(stack)) if r and nik in json.dumps(r)]
    assert record["status"] == "COMPLETED", record.get("error_code")
    return {"nik": nik, "extracted": record["result"]["fields"]["nik"], "record": record,
            "image": folder / f"{nik}.jpg", "outputs": [upload.stdout + upload.stderr]}


def _listed_ids(stack: LocalStack) -> list[str]:
    return [str(entry["reference_id"]) for entry in stack.jobs.index_entries("COMPLETED")]


def _sub_commands() -> set[str]:
    import argparse

    from ktp.cli import build_parser

    (group,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(group.choices)


def _secrets(completed: dict) -> set[str]:
    return {completed["nik"], completed["extracted"]} - {""}


def test_every_job_command_masks_the_nik(stack: LocalStack, completed: dict) -> None:
    ref = completed["record"]["reference_id"]
    data = ("--data-dir", str(stack.data_dir))
    runs = {
        "status": _ktp("status", ref, *data),
        "status --json": _ktp("status", ref, "--json", *data),
        "status prefix": _ktp("status", ref[:22], *data),
        "results": _ktp("results", *data),
        "results --json": _ktp("results", "--json", *data),
        "results --status": _ktp("results", "--status", "completed", "--json", *data),
        "watch --once": _ktp("watch", "--once", *data),
        "extract": _ktp("extract", str(completed["image"])),
        "extract --json": _ktp("extract", "--json", str(completed["image"])),
        "status --object": _ktp("status", "--object", f"s3://{stack.info.bucket}/{completed['record']['object_key']}", *data),
        "status --object --json": _ktp("status", "--object", f"s3://{stack.info.bucket}/{completed['record']['object_key']}",
                                       "--json", *data),
    }
    # A COMPLETED job is not re-driven: the command says so (exit 1) and prints the ids.
    redrive = _ktp("redrive", ref, *data)
    assert redrive.returncode == 1 and "COMPLETED" in redrive.stdout, redrive.stdout + redrive.stderr[-2000:]
    completed["outputs"].append(redrive.stdout + redrive.stderr)
    ran = {name.split()[0] for name in runs} | {"upload", "erase", "redrive"}  # upload: the fixture; erase: the next test
    # Not run here: servers (up, serve: they print no records; the stack's logs are grepped in the next
    # test), synth (writes files, prints counts) and demo (uploads its own cards and prints them with
    # the results table `results` uses). A new sub-command fails this until it is checked here.
    assert ran | {"up", "serve", "synth", "demo"} >= _sub_commands(), "a new sub-command needs a masking check here"
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr[-2000:])
    shown = json.loads(runs["status --json"].stdout)
    assert shown["result"]["fields"]["nik"] != completed["extracted"]
    assert shown["result"]["fields"]["nik"].endswith(completed["extracted"][-4:])
    for output in [*completed["outputs"], *(run.stdout + run.stderr for run in runs.values())]:
        for secret in _secrets(completed):
            assert secret not in output
    # ... unless asked: --show-nik is the one way to see it.
    assert completed["extracted"] in _ktp("status", ref, "--json", "--show-nik", *data).stdout


def test_erase_by_nik_removes_every_copy_and_leaves_a_record(stack: LocalStack, completed: dict) -> None:
    record = completed["record"]
    ref, key = record["reference_id"], record["object_key"]
    s3 = stack.aws_client("s3")
    assert s3.list_object_versions(Bucket=stack.info.bucket, Prefix=key).get("Versions")
    credentials = json.loads((stack.data_dir / "credentials.json").read_text())
    extractor = httpx.Client(base_url=stack.info.extractor_url, trust_env=False, timeout=30,
                             headers={"App-ID": credentials["app_id"], "API-Key": credentials["api_key"]})
    assert extractor.get("/ktp/id/extract-async/result", params={"reference_id": ref}).status_code == 200

    erase = _ktp("erase", "--nik", "-", "--json", "--data-dir", str(stack.data_dir), stdin=completed["extracted"] + "\n")
    assert erase.returncode == 0, erase.stderr[-2000:]
    report = json.loads(erase.stdout)
    assert report["ok"] and report["request_kind"] == "nik"
    assert (report["jobs_found"], report["jobs_erased"], report["jobs_pending"]) == (1, 1, 0)
    assert report["object_versions_deleted"] == 1
    assert report["provider_copies"] == {"deleted": 1}

    erased = stack.jobs.get(ref)
    assert not {"result", "nik_hash", "object_key", "object_etag"} & set(erased)
    assert erased["status"] == "COMPLETED" and erased["erasure_id"] == report["erasure_id"]
    listing = s3.list_object_versions(Bucket=stack.info.bucket, Prefix=key)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    gone = extractor.get("/ktp/id/extract-async/result", params={"reference_id": ref})
    assert gone.status_code == 404 and gone.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"
    erasure = stack.jobs.get(report["reference_id"])
    assert erasure["record_type"] == "erasure" and erasure["jobs_erased"] == 1

    # Erasing again by reference id: nothing personal is left, the provider no longer knows it.
    again = _ktp("erase", "--reference-id", ref, "--data-dir", str(stack.data_dir))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "not_found 1" in again.stdout

    texts = [erase.stdout + erase.stderr, again.stdout + again.stderr, json.dumps(erasure), json.dumps(erased)]
    texts += [path.read_text(errors="replace") for path in Path(stack.data_dir, "logs").rglob("*") if path.is_file()]
    for text in texts:
        for secret in _secrets(completed):
            assert secret not in text
