"""Payloads that cross a boundary: provider request/response, result/callback body, job record.
Parse tolerantly what others send (unknown keys ignored or kept), emit strictly what we send."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .contract import CONTRACT_FIELDS
from .reference_ids import REFERENCE_ID_PATTERN


# Values the provider uses for "nothing read".
EMPTY_MARKERS = frozenset({"", "-"})
# Keys of a result body that describe the response rather than the card (at the top or under `data`).
ENVELOPE_KEYS = frozenset({"message", "status_code", "error_code", "reference_id"})


class JobStatus(StrEnum):
    RECEIVED = "RECEIVED"
    SUBMITTED = "SUBMITTED"
    RETRY = "RETRY"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.REJECTED, JobStatus.TIMED_OUT)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SubmitRequest(BaseModel):
    """The body of POST /ktp/id/extract-async, emitted strictly."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(repr=False)  # base64 or URL: never in a repr, never in a log line
    validate_quality: bool
    reference_id: str = Field(pattern=REFERENCE_ID_PATTERN.pattern)
    # Optional in the contract: without it the poller alone collects results.
    callback_url: str | None = None


class _AcceptedData(_Tolerant):
    reference_id: str | None = None


class SubmitAccepted(_Tolerant):
    data: _AcceptedData = Field(default_factory=_AcceptedData)


class ProviderErrorBody(_Tolerant):
    message: str | None = None
    error_code: str | None = None


def _clean_text(value: Any) -> str | None:
    """A provider value as text, or None when it is missing, empty or "-"."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return None if text in EMPTY_MARKERS else text


class ExtractionResult(BaseModel):
    """A GET-result or callback body, understood whether the fields sit under `data` or at the top."""

    reference_id: str | None = None
    message: str | None = None
    status_code: str | None = None
    error_code: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    image_quality: dict[str, Any] | None = None
    # Keys we do not know, kept verbatim so nothing the provider sent is lost.
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ExtractionResult:
        data = body.get("data")
        nested: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        # Card fields: nested wins over flat; the envelope stays at the top.
        card = {k: v for k, v in body.items() if k not in ENVELOPE_KEYS and k != "data"} | dict(nested)
        if data is not None and not isinstance(data, Mapping):
            card["data"] = data  # not a card: kept as an unknown key
        fields = {k: text for k in CONTRACT_FIELDS if (text := _clean_text(card.pop(k, None))) is not None}
        image_quality = None
        if isinstance(card.get("image_quality"), Mapping):
            quality = card.pop("image_quality")
            image_quality = {str(k): v for k, v in quality.items() if isinstance(v, (bool, int, float, str))}
        # What is left, but for envelope keys repeated under `data`, is kept verbatim.
        extra = {str(k): v for k, v in card.items() if k not in ENVELOPE_KEYS}
        envelope = {name: _clean_text(body.get(name)) or _clean_text(nested.get(name)) for name in ENVELOPE_KEYS}
        return cls(**envelope, fields=fields, image_quality=image_quality, extra=extra)

    @property
    def state(self) -> Literal["completed", "failed", "pending"]:
        if self.error_code:
            return "failed"
        if self.fields:
            return "completed"
        # A 200 with neither fields nor error_code: the job is still processing.
        return "pending"


class JobRecord(_Tolerant):
    """One DynamoDB item (see docs/job-record.md for every attribute)."""

    reference_id: str
    status: JobStatus
    status_reason: str | None = None
    error_code: str | None = None
    bucket: str | None = None
    object_key: str | None = None
    object_version_id: str | None = None
    object_etag: str | None = None
    object_size: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    submitted_at: str | None = None
    completed_at: str | None = None
    created_epoch: int | None = None
    submitted_epoch: int | None = None
    submit_attempts: int = 0
    retry_count: int = 0
    poll_count: int = 0
    result_source: Literal["callback", "poll"] | None = None
    status_code: str | None = None
    result: dict[str, Any] | None = None
    orphan_callback: bool = False
    pending_shard: str | None = None
    next_check_at: int | None = None
    expires_at: int | None = None
    # Attempts (docs/job-record.md, "Attempts"): absent on attempt 1 records written before them.
    attempt: int = 1
    predecessor_id: str | None = None
    successor_id: str | None = None
    attempt_cause: str | None = None
    object_sequencer: str | None = None
