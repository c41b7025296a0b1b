"""CLI pieces that need no running stack: masking, JSON redaction, file discovery, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktp.cli import build_parser, main
from ktp_pipeline.dynamo_values import from_item, plain
from local.jobs import image_files
from local.render import mask_nik, redact, results_table


@pytest.mark.parametrize(
    ("nik", "shown"),
    [("3171234567890001", "317123******0001"), ("", ""), (None, ""), ("12345", "*****"), ("12345678901", "123456*8901")],
)
def test_mask_nik(nik, shown) -> None:
    assert mask_nik(nik) == shown


def test_show_nik_unmasks() -> None:
    assert mask_nik("3171234567890001", show=True) == "3171234567890001"


def test_redact_masks_only_the_nik_and_leaves_the_record_alone() -> None:
    record = {"reference_id": "ktp-1", "result": {"fields": {"nik": "3171234567890001", "full_name": "BUDI"}}}
    redacted = redact(record, show_nik=False)
    assert redacted["result"]["fields"] == {"nik": "317123******0001", "full_name": "BUDI"}
    assert record["result"]["fields"]["nik"] == "3171234567890001"
    assert redact(record, show_nik=True) is record


def test_results_table_never_shows_a_full_nik_by_default() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(results_table([{"reference_id": "ktp-1", "status": "COMPLETED", "object_key": "incoming/a.jpg",
                                  "result": {"fields": {"nik": "3171234567890001", "full_name": "BUDI"}}}]))
    text = console.export_text()
    assert "3171234567890001" not in text
    assert "317123******0001" in text
    assert "a.jpg" in text


def test_plain_turns_dynamodb_numbers_into_python_numbers() -> None:
    from decimal import Decimal

    assert plain({"a": Decimal("3"), "b": [Decimal("1.5")], "c": {"d": Decimal("0")}}) == {"a": 3, "b": [1.5], "c": {"d": 0}}


def test_a_low_level_item_reads_as_plain_python() -> None:
    # local.jobs reads the table with the low-level client: its items come typed ({"N": "3"}).
    item = {"a": {"N": "3"}, "b": {"L": [{"N": "1.5"}]}, "c": {"M": {"d": {"S": "x"}}}, "e": {"NULL": True}}
    assert from_item(item) == {"a": 3, "b": [1.5], "c": {"d": "x"}, "e": None}


def test_image_files_finds_images_in_directories(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.jpg", "a.PNG", "notes.txt", "sub/c.jpeg", ".hidden/d.jpg"):
        (tmp_path / name).write_bytes(b"x")
    found = image_files([tmp_path])
    assert [path.relative_to(tmp_path).as_posix() for path in found] == ["a.PNG", "b.jpg", "sub/c.jpeg"]
    with pytest.raises(FileNotFoundError):
        image_files([tmp_path / "missing.jpg"])


def test_every_command_is_registered() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"up", "demo", "upload", "status", "results", "watch"} <= set(commands)


def test_commands_without_a_running_stack_explain_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="ktp up"):
        main(["results", "--data-dir", str(tmp_path)])


def test_stale_state_file_is_not_trusted(tmp_path: Path) -> None:
    from local.state import StackInfo, write_state

    # A pid that cannot exist: the stack that wrote this file is gone.
    write_state(tmp_path, StackInfo(stack_name="s", region="r", bucket="b", table="t", pid=2**22 + 12345))
    with pytest.raises(SystemExit, match="not running"):
        main(["status", "ktp-1", "--data-dir", str(tmp_path)])


def test_a_second_stack_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    import os

    from local.stack import LocalStack
    from local.state import StackInfo, write_state

    write_state(tmp_path, StackInfo(stack_name="s", region="r", bucket="b", table="t", pid=os.getpid()))
    with pytest.raises(RuntimeError, match="already runs"):
        LocalStack(tmp_path).start()
    assert (tmp_path / "stack.json").exists()  # the running stack's state file is left alone


def test_mask_record_masks_every_nested_string_and_keeps_other_types() -> None:
    from local.render import mask_record

    record = {"poll_count": 2, "orphan_callback": False, "error_code": None, "object_key": "in/3171234567890001.jpg",
              "result": {"fields": {"nik": "3171234567890001"}, "raw_text": {"nik": "NIK:3171234567890001"},
                         "extra": {"3171234567890001": ["x 3171234567890001", 1.5], "long": "12345678901234567"}}}
    masked = mask_record(record)
    assert "3171234567890001" not in str(masked)
    assert masked["result"]["extra"] == {"317123******0001": ["x 317123******0001", 1.5], "long": "12345678901234567"}
    assert (masked["poll_count"], masked["orphan_callback"], masked["error_code"]) == (2, False, None)
    assert mask_record(record, show_nik=True) is record
    # The record's own NIK is masked even where it is not a 16-digit run of its own (OCR glued it).
    assert mask_record({"result": {"fields": {"nik": "317123456789"}, "raw_text": {"x": "A317123456789B"}}}
                       )["result"]["raw_text"]["x"] == "A317123**6789B"


def test_mask_record_keeps_identifiers_that_happen_to_hold_sixteen_digits() -> None:
    from local.render import mask_record, unique_prefixes

    # A real id from a demo run: `cd6472921915295163da` holds a run of exactly 16 digits.
    ref = "ktp-7ea292cd6472921915295163da060b7b538bedd5"
    record = {"reference_id": ref, "predecessor_id": ref, "object_etag": '"9a1234567890123456b0"',
              "object_key": "in/3171234567890001.jpg", "status_reason": f"re-driven as {ref}"}
    masked = mask_record(record)
    assert (masked["reference_id"], masked["predecessor_id"]) == (ref, ref)
    assert masked["object_etag"] == record["object_etag"]
    assert unique_prefixes([masked["reference_id"]]) == {ref: ref[:20]}
    # Anything else is masked as before (an id quoted inside a sentence too: no status reason holds one).
    assert masked["object_key"] == "in/317123******0001.jpg"
    assert "6472921915295163" not in masked["status_reason"]


def test_unique_prefixes_are_at_least_twenty_characters_and_tell_rows_apart() -> None:
    from local.render import unique_prefixes

    a, b, c = "ktp-" + "0" * 39 + "1", "ktp-" + "0" * 39 + "2", "ktp-" + "f" * 40
    assert unique_prefixes([a, b, c]) == {a: a, b: b, c: c[:20]}
    assert unique_prefixes(["ktp-1"]) == {"ktp-1": "ktp-1"}


def test_ctrl_c_while_the_commands_load_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import ktp.cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(ktp.cli, "build_parser", interrupted)
    assert main(["results"]) == 130
    assert capsys.readouterr().err == "ktp: interrupted\n"
