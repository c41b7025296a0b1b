"""Helpers for the local-stack tests. Each module that needs a stack starts its own (the files in
on_one_stack/ share one): starting the extractor costs seconds.

Short schedules for tests: the poller runs every second, its first look at a submitted job comes
after 3 s (not 60), re-polls and resubmissions back off from 2 s (not 30 and 60), a 404 from the
provider counts as lost after 4 s, and the extractor gives up on a refused callback after a few
quick attempts.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from local.completion_events import receive_events
from local.stack import LocalStack

TEST_FUNCTION_ENV = {
    "RESULT_GRACE_SECONDS": "4",
    "FIRST_CHECK_SECONDS": "3",
    "POLL_BASE_SECONDS": "2",
    "RETRY_BASE_SECONDS": "2",
    "JOB_DEADLINE_SECONDS": "600",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
TEST_EXTRACTOR_ARGS = ("--callback-backoff", "0.5", "--callback-max-attempts", "4")


def pytest_configure(config: pytest.Config) -> None:
    # moto's CloudFormation warns once per resource type it skips (alarms, the HTTP API, ...); the
    # local stack knows them (local/aws.py) and pytest would otherwise list each of them.
    config.addinivalue_line("filterwarnings", "ignore:.*not supported by moto's CloudFormation:UserWarning")


# A deadline for the tests that let a job time out: short, yet several times one card's OCR on a
# busy 2-core machine (a few seconds), so the re-driven attempt completes within its own.
SHORT_DEADLINE_SECONDS = 15


def new_stack(data_dir: Path, **function_env: str) -> LocalStack:
    """A local stack with the tests' short schedules (plus ``function_env``) and a provider tap."""
    return LocalStack(
        data_dir,
        poll_seconds=1.0,
        function_env={**TEST_FUNCTION_ENV, **function_env},
        extractor_args=TEST_EXTRACTOR_ARGS,
        extractor_workers=1,
        tap_provider=True,
        persist=False,
    )


def jpeg_bytes(width: int, height: int, draw: Callable | None = None) -> bytes:
    """A JPEG that is not a KTP: a sky-to-grass gradient with a sun and a house."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height))
    pixels = ImageDraw.Draw(image)
    for y in range(height):
        shade = int(255 * y / height)
        colour = (120, 170, 255 - shade // 3) if y < height * 0.6 else (60, 140 - shade // 6, 60)
        pixels.line([(0, y), (width, y)], fill=colour)
    pixels.ellipse([width * 0.7, height * 0.1, width * 0.85, height * 0.32], fill=(255, 220, 90))
    pixels.rectangle([width * 0.2, height * 0.4, width * 0.45, height * 0.7], fill=(170, 90, 60))
    pixels.polygon([(width * 0.18, height * 0.4), (width * 0.325, height * 0.25), (width * 0.47, height * 0.4)], fill=(120, 40, 30))
    if draw:
        draw(pixels)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def s3_event_body(bucket: str, key: str, *, etag: str, version_id: str | None, size: int, region: str) -> str:
    """An S3 notification as AWS would put it on a queue (for duplicate-delivery tests)."""
    from urllib.parse import quote_plus

    obj = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag.strip('"'), "sequencer": "00" + "%014X" % int(time.time() * 1e6)}
    if version_id:
        obj["versionId"] = version_id
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": "2026-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:TEST"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {"x-amz-request-id": "TEST"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "dup", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": obj},
    }]})


def _ps(*columns: str) -> list[list[str]]:
    output = subprocess.run(["ps", "-A", "-ww", "-o", ",".join(f"{c}=" for c in columns)], capture_output=True, text=True,
                            check=True, timeout=30).stdout
    return [line.split(None, len(columns) - 1) for line in output.splitlines() if line.strip()]


def descendants(pid: int) -> dict[int, str]:
    """Every living process below ``pid`` (ps works on Linux and macOS), with its command line."""
    rows = [(int(child), int(parent), stat, args) for child, parent, stat, args in _ps("pid", "ppid", "stat", "args")]
    found: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent, stat, _ in rows if parent in frontier and not stat.startswith("Z")}
        found.update({child: args for child, _, _, args in rows if child in frontier})
    return found


def completion_events(stack: LocalStack, wanted: set[str], timeout: float) -> list[dict]:
    """Events from the stack's standing completion-events queue until every wanted reference_id was
    seen (bounded by ``timeout``; ask for an id that never comes to collect whatever arrives)."""
    sqs = stack.aws_client("sqs")
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= {e["detail"]["reference_id"] for e in seen}:
        seen += receive_events(sqs, stack.resources.completion_events_queue_url, wait_seconds=1)
    return seen


def events_by_id(events: list[dict]) -> dict[str, list[dict]]:
    """Completion events grouped by their job's reference_id, in arrival order."""
    grouped: dict[str, list[dict]] = {}
    for event in events:
        grouped.setdefault(event["detail"]["reference_id"], []).append(event)
    return grouped


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def card_factory() -> Callable[[int], tuple[bytes, dict]]:
    from extractor.synth import generate_card

    return lambda seed: generate_card(seed, "clean")


def default_sigint() -> None:
    """Popen(preexec_fn=...) for a child the test will Ctrl-C: a command started in the background
    by a non-interactive shell (`cmd &`, as some CI runners and nohup do) inherits SIGINT ignored,
    and Python then never raises KeyboardInterrupt; the test must not depend on how it was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ignored_interrupt_reports(lines: list[str]) -> tuple[list[str], int]:
    """stderr lines without CPython's own "Exception ignored in: ..." reports, and how many
    reports ended in KeyboardInterrupt. A Ctrl-C that lands inside an import lock's weakref callback
    is printed that way and dropped by the interpreter (the person, or the test, presses Ctrl-C
    again); such a report ends with its exception line."""
    kept, dropped, inside = [], 0, False
    for line in lines:
        if line.startswith("Exception ignored in"):
            inside = True
        elif inside and line.startswith("KeyboardInterrupt"):
            inside, dropped = False, dropped + 1
        elif not inside:
            kept.append(line)
    return kept, dropped


def without_ignored_interrupts(lines: list[str]) -> list[str]:
    return _ignored_interrupt_reports(lines)[0]


def dropped_interrupts(lines: list[str]) -> int:
    """How many Ctrl-Cs CPython reported as ignored (and dropped)."""
    return _ignored_interrupt_reports(lines)[1]


def describe(records: dict) -> str:
    """Statuses for an assertion message (no personal fields)."""
    return ", ".join(f"{ref[:12]}={(record or {}).get('status')}/{(record or {}).get('error_code')}" for ref, record in records.items())


