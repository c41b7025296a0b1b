"""Completion events on the local stack: the Pipe of template.yaml, run by local/completion_events.py
on moto's stream of the jobs table, delivers one event per finished job to the bus, and from there
(a rule) to the local queue and to `ktp watch --events`."""

from __future__ import annotations

import io
import json
import threading

from local.stack import LocalStack
from local.watch_events import watch_events

from ..conftest import completion_events, describe, events_by_id, jpeg_bytes, wait_for

OCR_TIMEOUT = 240


def test_each_finished_upload_emits_exactly_one_event(stack: LocalStack, card_factory) -> None:
    jobs = stack.jobs
    image, truth = card_factory(1101)
    card = jobs.upload_bytes(image, f"events/{truth['fields']['nik']} card.jpg").reference_id
    too_small = jobs.upload_bytes(jpeg_bytes(400, 260), "events/thumbnail.jpg").reference_id
    records = jobs.wait_terminal([card, too_small], timeout_seconds=OCR_TIMEOUT)
    assert records[card]["status"] == "COMPLETED", describe(records)
    assert records[too_small]["status"] == "REJECTED", describe(records)

    events = completion_events(stack, {card, too_small}, timeout=30)
    # Anything late would arrive within a few of the runner's 0.2 s polls.
    events += completion_events(stack, {"none"}, timeout=2)
    by_id = events_by_id(events)
    assert sorted(len(by_id.get(ref, [])) for ref in (card, too_small)) == [1, 1], [e["detail"] for e in events]

    (completed,), (rejected,) = by_id[card], by_id[too_small]
    assert completed["source"] == "ktp.pipeline" and completed["detail-type"] == "COMPLETED"
    assert completed["detail"] == {
        "version": "1", "reference_id": card, "status": "COMPLETED", "error_code": "", "bucket": stack.info.bucket,
        "created_at": records[card]["created_at"], "finished_at": records[card]["completed_at"],
        "result_source": records[card]["result_source"],
    }
    assert rejected["detail-type"] == "REJECTED" and rejected["detail"]["error_code"] == records[too_small]["error_code"]
    body = json.dumps(events)
    assert truth["fields"]["nik"] not in body and truth["fields"]["full_name"] not in body  # the key holds the NIK: it is left out

    # A later change of the terminal item (an erasure removing `result`) emits nothing.
    stack.aws_client("dynamodb").update_item(
        TableName=stack.info.table, Key={"reference_id": {"S": card}}, UpdateExpression="REMOVE #r",
        ExpressionAttributeNames={"#r": "result"})
    assert completion_events(stack, {"none"}, timeout=2) == []


def test_watch_events_prints_events_and_removes_its_rule(stack: LocalStack) -> None:
    events = stack.aws_client("events")
    bus = stack.info.completion_event_bus
    rules_before = {r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]}
    out = io.StringIO()
    watcher = threading.Thread(target=watch_events, args=(stack.info,), kwargs={"once": True, "wait_seconds": 10, "out": out})
    watcher.start()
    wait_for(lambda: len(events.list_rules(EventBusName=bus)["Rules"]) > len(rules_before), timeout=10, what="the watch rule")

    # A job that fails by the table's own state machine (an orphan callback-like terminal insert
    # would do too): created pending, then moved to FAILED with the conditional write of the layer.
    from ktp_pipeline.job_store import JobStore
    from ktp_pipeline.models import JobStatus

    store = JobStore(stack.aws_client("dynamodb"), stack.info.table)
    assert store.create_received("ktp-watch-events-test", bucket=stack.info.bucket, key="w.jpg", version_id=None,
                                 etag="x", size=1, claim_seconds=600)
    store.finish("ktp-watch-events-test", JobStatus.FAILED, reason="test", error_code="KTP_NOT_DETECTED")
    store.finish("ktp-watch-events-test", JobStatus.FAILED, reason="again", error_code="KTP_NOT_DETECTED")  # no write
    watcher.join(30)
    assert not watcher.is_alive()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "FAILED" in lines[0] and "reference_id=ktp-watch-events-test" in lines[0], lines
    assert "error_code=KTP_NOT_DETECTED" in lines[0]
    assert {r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]} == rules_before
    assert not [url for url in stack.aws_client("sqs").list_queues().get("QueueUrls", []) if "ktp-watch-" in url]
    completion_events(stack, {"ktp-watch-events-test"}, timeout=10)  # leave the standing queue empty for other tests
