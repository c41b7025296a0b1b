"""``ktp watch --events``: print completion events as they arrive (docs/completion-events.md).

An EventBridge bus cannot be read, only routed: so for as long as it runs, the command gives the
stack's ``CompletionEventBus`` its own temporary rule and SQS queue (``ktp-watch-<random>``), reads
that queue with bounded long polls (no table read at all), and deletes both on exit (Ctrl-C
included, and SIGTERM; not ``kill -9``, which leaves both behind for ``aws events delete-rule``). The same path works locally (moto) and on a deployed stack (``--stack``), where the
caller needs ``events:PutRule/PutTargets/RemoveTargets/DeleteRule`` on the bus's rules and
``sqs:CreateQueue/SetQueueAttributes/ReceiveMessage/DeleteMessage/DeleteQueue`` on ``ktp-watch-*``.
Events carry no personal data, so nothing is masked. Only events put after the start are shown.
"""

from __future__ import annotations

import json
import secrets
import signal
import sys
import threading
from typing import Any

DEFAULT_SOURCE = "ktp.pipeline"


def event_source(template_path: Any = None) -> str:
    """The ``source`` the template's completion-events Pipe puts on its events."""
    from local.jobs import REPO_ROOT
    from local.template import load_template

    path = template_path or REPO_ROOT / "template.yaml"
    try:
        resources = load_template(path)["Resources"]
    except (OSError, ValueError):
        return DEFAULT_SOURCE
    for resource in resources.values():
        if resource.get("Type") == "AWS::Pipes::Pipe":
            source = ((resource.get("Properties") or {}).get("TargetParameters") or {}).get(
                "EventBridgeEventBusParameters", {}).get("Source")
            if isinstance(source, str):
                return source
    return DEFAULT_SOURCE


def event_line(event: dict[str, Any]) -> str:
    """One event as one line: time, detail-type, then the detail's non-empty fields."""
    detail = event.get("detail") or {}
    parts = [f"{key}={value}" for key, value in detail.items() if value not in ("", None) and key not in ("version", "status")]
    return f"{event.get('time', '')}  {event.get('detail-type', ''):<9}  " + "  ".join(parts)


def watch_events(info: Any, *, once: bool, as_json: bool = False, wait_seconds: int = 5, out: Any = None) -> int:
    from local.aws_clients import client
    from local.completion_events import receive_events, subscribe_queue, unsubscribe_queue

    out = out or sys.stdout
    if not info.completion_event_bus:
        raise SystemExit("ktp watch --events: this stack has no completion-event bus (CompletionEventBusName output)")
    events, sqs = client("events", info.endpoint_url, info.region), client("sqs", info.endpoint_url, info.region)
    name = f"ktp-watch-{secrets.token_hex(4)}"
    queue_url, rule = subscribe_queue(events, sqs, bus_name=info.completion_event_bus, source=event_source(),
                                      queue_name=name, rule_name=name)
    previous = _stop_on_sigterm()
    try:
        print(f"watching completion events on {info.completion_event_bus} (temporary rule and queue {name}); Ctrl-C to quit",
              file=sys.stderr, flush=True)
        while True:
            for event in receive_events(sqs, queue_url, wait_seconds=wait_seconds):
                print(json.dumps(event, ensure_ascii=False) if as_json else event_line(event), file=out, flush=True)
            if once:
                return 0
    finally:
        unsubscribe_queue(events, sqs, bus_name=info.completion_event_bus, queue_url=queue_url, rule_name=rule)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm() -> Any:
    """SIGTERM ends the watch like Ctrl-C, so the temporary rule and queue are deleted too."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)
