"""Every CLI command that prints a job, on a table shaped like template.yaml's (moto in process):
the NIK is masked everywhere in the output, lists come from Query on `by-status` (never a Scan),
newest first with the limit after ordering, ids in tables work with `ktp status`, and Ctrl-C ends
any command with one line and exit code 130."""

from __future__ import annotations

import hashlib
import json
import os
from decimal import Decimal
from collections.abc import Iterator
from pathlib import Path

import botocore.client
import pytest

from ktp.cli import main
from local.jobs import REPO_ROOT
from local.state import StackInfo, write_state
from ktp_pipeline.reference_ids import reference_id_for

NIK = "3171234567890001"
BUCKET = "uploads"
TABLE = "jobs"
PREFIX = "incoming/"
CARD_BYTES = b"\xff\xd8\xff not really a jpeg, the table already holds its record"


def _table_properties() -> dict:
    """JobsTable's keys and indexes exactly as template.yaml declares them."""
    from local.template import load_template

    properties = load_template(REPO_ROOT / "template.yaml")["Resources"]["JobsTable"]["Properties"]
    return {name: properties[name] for name in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")}


def _record(reference_id: str, status: str, updated_at: str, **extra) -> dict:
    return {"reference_id": reference_id, "status": status, "status_reason": "r", "updated_at": updated_at,
            "created_at": updated_at, "bucket": BUCKET, "object_key": f"{PREFIX}{reference_id}.jpg", **extra}


def _personal_record(reference_id: str) -> dict:
    """A completed job whose NIK is in the fields, the raw text, the extras and the object key."""
    return _record(
        reference_id, "COMPLETED", "2026-01-01T00:00:09Z", object_key=f"{PREFIX}{NIK}.jpg", poll_count=2,
        result={"fields": {"nik": NIK, "full_name": "BUDI SANTOSO"},
                "raw_text": {"nik": f"NIK : {NIK}", "full_name": "Nama : BUDI SANTOSO"},
                "extra": {"lines": [f"PROVINSI DKI JAKARTA {NIK}", "KOTA"], "by_value": {NIK: 0.98}}},
    )


@pytest.fixture
def operations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS API operation the CLI calls."""
    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        seen.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return seen


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb", region_name="us-east-1").create_table(TableName=TABLE, **_table_properties())
        write_state(tmp_path, StackInfo(stack_name="test", region="us-east-1", bucket=BUCKET, table=TABLE,
                                        upload_prefix=PREFIX, pid=os.getpid()))
        yield tmp_path


def _put(*records: dict) -> None:
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    for record in records:
        table.put_item(Item=json.loads(json.dumps(record), parse_float=Decimal))


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_no_command_prints_the_full_nik(data_dir: Path, tmp_path_factory, capsys, operations) -> None:
    card = tmp_path_factory.mktemp("cards") / f"{NIK}.jpg"  # a file named after the card's NIK
    card.write_bytes(CARD_BYTES)
    etag = '"' + hashlib.md5(CARD_BYTES).hexdigest() + '"'  # noqa: S324 (S3's ETag of a plain upload)
    reference_id = reference_id_for(BUCKET, f"{PREFIX}{NIK}.jpg", None, etag)
    _put(_personal_record(reference_id))
    target = ("--data-dir", str(data_dir))

    outputs = {
        "status": _run(capsys, "status", reference_id, *target),
        "status --json": _run(capsys, "status", reference_id[:12], "--json", *target),
        "results": _run(capsys, "results", *target),
        "results --json": _run(capsys, "results", "--json", *target),
        "watch --once": _run(capsys, "watch", "--once", *target),
        "upload --wait": _run(capsys, "upload", str(card), "--wait", "--timeout", "5", *target),
    }
    for command, (code, output) in outputs.items():
        assert code == 0, (command, output)
        assert reference_id[:20] in output or reference_id[:20] in json.dumps(output), command
        assert NIK not in output, f"`ktp {command}` printed the full NIK"
        assert "317123******0001" in output, command
    listed = json.loads(outputs["results --json"][1].splitlines()[0])
    assert listed["result"]["raw_text"]["nik"] == "NIK : 317123******0001"
    assert listed["result"]["extra"]["by_value"] == {"317123******0001": 0.98}
    assert listed["poll_count"] == 2  # numbers stay numbers

    code, shown = _run(capsys, "results", "--json", "--show-nik", *target)
    assert NIK in json.loads(shown.splitlines()[0])["result"]["raw_text"]["nik"]
    assert "Scan" not in operations


def test_results_are_newest_first_across_statuses_with_the_limit_after_ordering(data_dir: Path, capsys, operations) -> None:
    # Oldest first in write order, statuses mixed: a limit before ordering would keep the old ones.
    _put(*(_record(f"ktp-{index:040x}", status, f"2026-01-01T00:00:{index:02d}Z")
           for index, status in enumerate(["COMPLETED", "FAILED", "COMPLETED", "TIMED_OUT", "FAILED", "COMPLETED", "REJECTED"])))
    code, output = _run(capsys, "results", "--json", "--limit", "3", "--data-dir", str(data_dir))
    assert code == 0
    assert [json.loads(line)["updated_at"][-3:] for line in output.splitlines()] == ["06Z", "05Z", "04Z"]

    code, output = _run(capsys, "results", "--json", "--status", "completed", "--data-dir", str(data_dir))
    assert [json.loads(line)["updated_at"][-3:] for line in output.splitlines()] == ["05Z", "02Z", "00Z"]
    assert "Query" in operations and "Scan" not in operations


def test_results_paginate_the_index(data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("local.jobs.PAGE_SIZE", 2)
    _put(*(_record(f"ktp-{index:040x}", "FAILED", f"2026-01-01T00:00:{index:02d}Z") for index in range(5)))
    code, output = _run(capsys, "results", "--json", "--limit", "0", "--data-dir", str(data_dir))
    assert len(output.splitlines()) == 5


def test_table_ids_are_unique_prefixes_that_status_accepts(data_dir: Path, capsys) -> None:
    twins = ["ktp-" + "a" * 30 + "0000000001", "ktp-" + "a" * 30 + "0000000002"]  # share 39 characters
    _put(*(_record(ref, "FAILED", f"2026-01-01T00:00:0{index}Z") for index, ref in enumerate(twins)))
    code, table = _run(capsys, "results", "--data-dir", str(data_dir))
    assert twins[0] in table and twins[1] in table  # they differ in the last character only

    code, output = _run(capsys, "status", "ktp-aaaa", "--data-dir", str(data_dir))
    assert code == 1 and "ambiguous" in output and twins[0] in output
    code, output = _run(capsys, "status", "ktp-ffff", "--data-dir", str(data_dir))
    assert code == 1 and "no job" in output
    code, output = _run(capsys, "status", twins[1][:-1] + "2", "--json", "--data-dir", str(data_dir))
    assert code == 0 and json.loads(output)["reference_id"] == twins[1]


def test_status_choices_are_the_pipeline_statuses() -> None:
    from ktp_pipeline.models import JobStatus

    from local.cli import STATUS_CHOICES

    assert STATUS_CHOICES == tuple(status.value for status in JobStatus)
    with pytest.raises(SystemExit):
        main(["results", "--status", "DONE"])


@pytest.mark.parametrize(
    ("argv", "method"),
    [
        (["upload", "CARD", "--wait"], "wait_terminal"),
        (["results"], "recent"),
        (["watch"], "recent"),
        (["status", "ktp-1"], "find"),
    ],
)
def test_ctrl_c_ends_any_command_with_one_line_and_130(data_dir: Path, tmp_path_factory, capsys, monkeypatch, argv, method) -> None:
    card = tmp_path_factory.mktemp("cards") / "card.jpg"
    card.write_bytes(CARD_BYTES)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(f"local.jobs.JobsClient.{method}", interrupted)
    code = main([str(card) if part == "CARD" else part for part in argv] + ["--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 130
    assert err.strip().splitlines()[-1] == f"ktp {argv[0]}: interrupted"
    assert "Traceback" not in err


def test_a_watch_refresh_reads_only_the_rows_that_changed(data_dir: Path, operations) -> None:
    from local.jobs import JobsClient
    from local.state import read_state

    _put(*(_record(f"ktp-{index:040x}", "SUBMITTED", f"2026-01-01T00:00:{index:02d}Z") for index in range(4)))
    jobs, seen = JobsClient(read_state(data_dir)), {}
    assert len(jobs.recent(limit=3, seen=seen)) == 3
    assert operations.count("GetItem") == 3
    _put(_record(f"ktp-{1:040x}", "COMPLETED", "2026-01-01T00:00:09Z"))  # one job moved on
    operations.clear()
    shown = jobs.recent(limit=3, seen=seen)
    assert [record["updated_at"][-3:] for record in shown] == ["09Z", "03Z", "02Z"]
    assert operations.count("GetItem") == 1
    assert operations.count("Query") == 7 and "Scan" not in operations  # one bounded Query per status
