"""S3 notifications as Powertools' `S3Event` data class, plus what it leaves to the caller.

A module of its own so that only the submit path imports Powertools' data classes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

__all__ = ["S3Event", "S3EventRecord", "decoded_key", "is_object_created", "is_s3_test_event", "s3_records"]


def is_s3_test_event(event: Mapping[str, Any]) -> bool:
    """`s3:TestEvent` is what S3 sends once when a notification is configured; it has no Records."""
    return event.get("Event") == "s3:TestEvent"


def s3_records(event: S3Event) -> Iterator[S3EventRecord]:
    """The event's records; none for an event without `Records` (Powertools' `records` raises there)."""
    return event.records if "Records" in event else iter(())


def is_object_created(record: S3EventRecord) -> bool:
    return record.get("eventSource") == "aws:s3" and str(record.get("eventName", "")).startswith("ObjectCreated:")


def decoded_key(record: S3EventRecord) -> str:
    # S3 URL-encodes keys in notifications and writes spaces as '+' (Powertools' `key` is the raw one).
    return unquote_plus(record.s3.get_object.key)
