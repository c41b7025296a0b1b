"""The job commands as separate processes against a running `ktp up` stack (the table and its
by-status index made from template.yaml): they list a job through the index with its NIK masked,
and Ctrl-C (a real SIGINT) ends `ktp watch` with one line and exit code 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from ktp_pipeline.dynamo_values import to_attribute

from local.stack import LocalStack

from ..conftest import default_sigint, without_ignored_interrupts

pytestmark = pytest.mark.slow

NIK = "3174055512980007"


def _ktp(*argv: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "160"}  # rich renders live even into a pipe
    return subprocess.Popen([sys.executable, "-m", "ktp", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, preexec_fn=default_sigint, **kwargs)


@pytest.fixture(scope="module")
def job(stack: LocalStack) -> str:
    reference_id = "ktp-" + "c0ffee" * 6 + "beef"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    item = {
        "reference_id": reference_id, "status": "COMPLETED", "status_reason": "Extraction completed.",
        "updated_at": now, "created_at": now, "bucket": stack.info.bucket, "object_key": f"incoming/{NIK}.jpg",
        "result": {"fields": {"nik": NIK, "full_name": "SITI"}, "raw_text": {"nik": f"NIK: {NIK}"},
                   "extra": {"lines": [NIK]}},
    }
    stack.aws_client("dynamodb").put_item(TableName=stack.info.table, Item=to_attribute(item)["M"])
    return reference_id


def test_results_json_lists_the_job_through_the_index_with_the_nik_masked(stack: LocalStack, job: str) -> None:
    process = _ktp("results", "--status", "completed", "--json", "--data-dir", str(stack.data_dir))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    listed = {json.loads(line)["reference_id"]: json.loads(line) for line in out.decode().splitlines()}
    assert listed[job]["result"]["raw_text"]["nik"] == "NIK: 317405******0007"
    assert NIK.encode() not in out + err


def test_ctrl_c_stops_watch_with_one_line_and_130(stack: LocalStack, job: str) -> None:
    process = _ktp("watch", "--interval", "0.2", "--data-dir", str(stack.data_dir))
    seen = b""
    try:
        os.set_blocking(process.stdout.fileno(), False)
        deadline = time.monotonic() + 60
        while job[:20].encode() not in seen and time.monotonic() < deadline and process.poll() is None:
            seen += process.stdout.read() or b""
            time.sleep(0.1)
        assert job[:20].encode() in seen, "watch never showed the job"
        # Bounded repeats: CPython drops a Ctrl-C that lands in an import lock's weakref callback.
        for _ in range(5):
            process.send_signal(signal.SIGINT)
            try:
                out, err = process.communicate(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            raise AssertionError("watch did not stop on Ctrl-C")
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert without_ignored_interrupts(err.decode().strip().splitlines()) == ["ktp watch: interrupted"], err.decode()
    assert NIK.encode() not in seen + out + err
