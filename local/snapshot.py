"""What survives ``ktp up`` restarts: moto keeps everything in memory, so at stop the stack
snapshots the jobs table, every version of the uploaded objects and any S3 events not yet processed into the data
directory, and restores them at the next start (before S3 notifications are switched on, so
restored objects do not start new jobs).

The snapshot holds images and results — personal data — so it is written owner-only (0600/0700).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

SNAPSHOT_DIR = "aws-snapshot"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _encode(value: Any) -> Any:
    """DynamoDB JSON with binary values as ``{"__b64__": ...}``."""
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, set):
        return [_encode(item) for item in sorted(value)]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def save(data_dir: Path, *, s3: Any, dynamodb: Any, sqs: Any, bucket: str, table: str, events_queue_url: str) -> dict[str, int]:
    """Write the snapshot; returns counts for the log line."""
    root = _private_dir(data_dir / SNAPSHOT_DIR)
    objects_dir = _private_dir(root / "objects")
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page.get("Items", []))
    _write_private(root / "table.json", json.dumps(_encode(items)).encode())

    # Every version, not just the current one: job records and queued events name versions.
    index = []
    keep = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []):
            key, version_id = entry["Key"], entry.get("VersionId") or "null"
            blob_name = hashlib.sha256(f"{key}\x00{version_id}".encode()).hexdigest()
            extra = {"VersionId": version_id} if version_id != "null" else {}
            obj = s3.get_object(Bucket=bucket, Key=key, **extra)
            _write_private(objects_dir / blob_name, obj["Body"].read())
            index.append({"key": key, "version_id": version_id, "blob": blob_name,
                          "content_type": obj.get("ContentType"), "metadata": obj.get("Metadata") or {}})
            keep.add(blob_name)
    for stale in objects_dir.iterdir():
        if stale.name not in keep:
            stale.unlink()
    # The listing is newest-first per key; store oldest-first so a restore ends on the current one.
    index.reverse()
    _write_private(root / "objects.json", json.dumps(index).encode())

    # S3 events still queued would otherwise be lost with moto's memory: carry them over.
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=events_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0)
        received = batch.get("Messages", [])
        if not received:
            break
        messages.extend(message["Body"] for message in received)
    _write_private(root / "pending_events.json", json.dumps(messages).encode())
    return {"items": len(items), "objects": len(index), "pending_events": len(messages)}


def restore_data(
    data_dir: Path,
    *,
    s3: Any,
    dynamodb: Any,
    bucket: str,
    table: str,
    pin_version: Callable[[str, str, str], None] | None = None,
) -> dict[str, int]:
    """Put back table items and objects (call before S3 notifications are configured).

    ``pin_version(key, new_version_id, old_version_id)`` gives a restored object its old version
    id back, so job records and queued events that name it still find it."""
    root = data_dir / SNAPSHOT_DIR
    counts = {"items": 0, "objects": 0}
    if not root.is_dir():
        return counts
    table_file = root / "table.json"
    if table_file.exists():
        items = _decode(json.loads(table_file.read_text()))
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending: dict[str, Any] = {table: requests}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        counts["items"] = len(items)
    objects_file = root / "objects.json"
    if objects_file.exists():
        for entry in json.loads(objects_file.read_text()):
            extra: dict[str, Any] = {"Metadata": entry.get("metadata") or {}}
            if entry.get("content_type"):
                extra["ContentType"] = entry["content_type"]
            body = (root / "objects" / entry["blob"]).read_bytes()
            answer = s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, **extra)
            old_version, new_version = entry.get("version_id"), answer.get("VersionId")
            if pin_version is not None and old_version not in (None, "null") and new_version:
                pin_version(entry["key"], new_version, old_version)
            counts["objects"] += 1
    return counts


def restore_events(data_dir: Path, *, sqs: Any, events_queue_url: str) -> int:
    """Re-queue the S3 events that were pending at the last stop."""
    events_file = data_dir / SNAPSHOT_DIR / "pending_events.json"
    if not events_file.exists():
        return 0
    bodies = json.loads(events_file.read_text())
    for body in bodies:
        sqs.send_message(QueueUrl=events_queue_url, MessageBody=body)
    events_file.unlink()
    return len(bodies)
