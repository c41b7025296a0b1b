"""Python values to DynamoDB attribute values and back (the one copy; local/jobs.py uses it too)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value as plain JSON-able Python (Decimal → int/float, sets → sorted lists)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    return value


def to_attribute(value: Any) -> dict[str, Any]:
    """A JSON-able value as an attribute. DynamoDB numbers must be Decimal and cannot be NaN or
    Infinity, which Python's json accepts in provider payloads: those are stored as "nan", "inf"."""
    safe = json.loads(json.dumps(value), parse_float=Decimal, parse_constant=lambda name: str(float(name)))
    return _serializer.serialize(safe)


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level client item (`{"S": ...}` values) as plain Python."""
    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}
