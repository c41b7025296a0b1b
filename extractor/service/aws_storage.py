"""The serverless home's storage adapters: jobs in DynamoDB, images in S3, work on SQS.

Same protocols as `ktp serve`'s SQLite store (storage.py). One table holds every job, keyed on
(app_id, reference_id) and written conditionally so a reference id exists once per application,
plus one usage item per application (``reference_id = "#usage"``, which no valid reference id can
be) whose counter is the testing quota, and one short-lived item per (application, submit-rate
window) (``"#rate#<window>"``, throttle.py). Every item carries ``expires_at`` for DynamoDB TTL; TTL
deletes lazily, so reads also treat an expired item as gone.

boto3 calls are blocking; in Lambda each invocation serves one request, so the coroutines simply
run them (no event loop is shared with other requests).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ktp_pipeline.dynamo_values import plain  # the one Decimal → int/float conversion

from extractor.service.store import TERMINAL_STATES, Job, QuotaExhausted, ReferenceExists
from extractor.service.throttle import SubmitRate

USAGE_SORT_KEY = "#usage"
RATE_SORT_KEY_PREFIX = "#rate#"
# Nothing counts against a window once it is over; its item expires this long after, so TTL
# (which deletes lazily) clears the table of old windows.
RATE_WINDOW_GRACE_SECONDS = 3600
# An unfinished job's item outlives the result retention by this much, so a job stuck in the
# queue still disappears eventually (finish_job resets expires_at from the finish time).
UNFINISHED_GRACE_SECONDS = 7 * 24 * 3600

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _dynamo(value: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(item) for name, item in value.items()}


def _python(item: dict[str, Any]) -> dict[str, Any]:
    return {name: plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _number(value: float) -> Decimal:
    return Decimal(repr(round(value, 6)))


def _conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def job_from_item(item: dict[str, Any]) -> Job:
    return Job(
        app_id=item["app_id"],
        reference_id=item["reference_id"],
        state=item["state"],
        validate_quality=bool(item.get("validate_quality")),
        callback_url=item.get("callback_url"),
        image_path=item.get("image_key"),
        created_at=float(item["created_at"]),
        started_at=float(item["started_at"]) if item.get("started_at") is not None else None,
        finished_at=float(item["finished_at"]) if item.get("finished_at") is not None else None,
        processing_attempts=int(item.get("processing_attempts", 0)),
        error_code=item.get("error_code"),
        result=json.loads(item["result_json"]) if item.get("result_json") else None,
    )


class DynamoJobStore:
    def __init__(
        self, client: Any, table: str, retention_hours: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._retention_seconds = retention_hours * 3600
        self._clock = clock

    def _key(self, app_id: str, reference_id: str) -> dict[str, Any]:
        return _dynamo({"app_id": app_id, "reference_id": reference_id})

    def _item(self, app_id: str, reference_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(TableName=self._table, Key=self._key(app_id, reference_id), ConsistentRead=True)
        if "Item" not in answer:
            return None
        item = _python(answer["Item"])
        if float(item.get("expires_at", float("inf"))) < self._clock():
            return None  # expired; TTL has not got round to deleting it yet
        return item

    # -- JobStore -------------------------------------------------------------------------------

    async def reference_exists(self, app_id: str, reference_id: str) -> bool:
        return self._item(app_id, reference_id) is not None

    async def quota_left(self, app_id: str, quota: int | None) -> bool:
        if quota is None:
            return True
        usage = self._item(app_id, USAGE_SORT_KEY)
        return int((usage or {}).get("accepted", 0)) < quota

    async def insert_job(
        self, app_id: str, reference_id: str, validate_quality: bool, callback_url: str | None,
        image_path: str, quota: int | None,
    ) -> None:
        """The quota count and the job in one transaction: both happen or neither does."""
        now = self._clock()
        job: dict[str, Any] = {
            "app_id": app_id, "reference_id": reference_id, "state": "queued",
            "validate_quality": validate_quality, "image_key": image_path, "created_at": _number(now),
            "processing_attempts": 0,
            "expires_at": int(now + self._retention_seconds + UNFINISHED_GRACE_SECONDS),
        }
        if callback_url:
            job["callback_url"] = callback_url
        usage_update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(app_id, USAGE_SORT_KEY),
            "UpdateExpression": "ADD accepted :one",
            "ExpressionAttributeValues": _dynamo({":one": 1}),
        }
        if quota is not None:
            usage_update["ConditionExpression"] = "attribute_not_exists(accepted) OR accepted < :quota"
            usage_update["ExpressionAttributeValues"] = _dynamo({":one": 1, ":quota": quota})
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Update": usage_update},
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dynamo(job),
                            "ConditionExpression": "attribute_not_exists(reference_id)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise ReferenceExists(reference_id) from None
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise QuotaExhausted(app_id) from None
            raise

    async def get_job(self, app_id: str, reference_id: str) -> Job | None:
        item = self._item(app_id, reference_id)
        return job_from_item(item) if item and "state" in item else None

    async def finish_job(self, job: Job, state: str, error_code: str | None, body: dict[str, Any]) -> bool:
        assert state in TERMINAL_STATES
        now = self._clock()
        names = {"#state": "state"}
        values: dict[str, Any] = {
            ":state": state, ":result": json.dumps(body), ":finished": _number(now),
            ":expires": int(now + self._retention_seconds), ":completed": "completed", ":failed": "failed",
        }
        sets = ["#state = :state", "result_json = :result", "finished_at = :finished", "expires_at = :expires"]
        if error_code:
            sets.append("error_code = :code")
            values[":code"] = error_code
        if job.callback_url:
            sets.append("callback_state = :pending")
            values[":pending"] = "pending"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(job.app_id, job.reference_id),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE image_key",
                ConditionExpression="attribute_exists(reference_id) AND NOT #state IN (:completed, :failed)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_dynamo(values),
            )
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    async def delete_job(self, app_id: str, reference_id: str) -> Job | None:
        # Conditional on a job item (never the usage item), expired or not: an item TTL has not
        # removed yet still holds the result, so erasing it is a real deletion.
        try:
            answer = self._client.delete_item(
                TableName=self._table,
                Key=self._key(app_id, reference_id),
                ConditionExpression="attribute_exists(reference_id) AND attribute_exists(#state)",
                ExpressionAttributeNames={"#state": "state"},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if _conditional_failure(error):
                return None
            raise
        return job_from_item(_python(answer["Attributes"]))

    # -- the serverless worker and callback delivery ----------------------------------------------

    async def claim(self, app_id: str, reference_id: str) -> Job | None:
        """Start (another) processing attempt of an unfinished job; None if it is terminal or gone."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(app_id, reference_id),
                UpdateExpression="SET #state = :processing, started_at = :now ADD processing_attempts :one",
                ConditionExpression="attribute_exists(reference_id) AND #state IN (:queued, :processing)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_dynamo(
                    {":processing": "processing", ":queued": "queued", ":now": _number(self._clock()), ":one": 1}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failure(error):
                return None
            raise
        return job_from_item(_python(answer["Attributes"]))

    async def delivery(self, app_id: str, reference_id: str) -> tuple[str | None, int]:
        """(callback_state, attempts made so far) of a job's callback."""
        item = self._item(app_id, reference_id) or {}
        return item.get("callback_state"), len(item.get("callback_attempts", []))

    async def record_attempt(
        self, app_id: str, reference_id: str, http_status: int | None, error: str | None, outcome: str
    ) -> None:
        """Append one attempt to the job; ``outcome`` is the delivery's state afterwards
        (pending, delivered or abandoned)."""
        attempt: dict[str, Any] = {"at": _number(self._clock()), "http_status": http_status, "error": error}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(app_id, reference_id),
                UpdateExpression="SET callback_attempts = list_append(if_not_exists(callback_attempts, :empty), :attempt),"
                " callback_state = :outcome",
                ConditionExpression="attribute_exists(reference_id)",
                ExpressionAttributeValues=_dynamo({":empty": [], ":attempt": [attempt], ":outcome": outcome}),
            )
        except ClientError as error_:
            if not _conditional_failure(error_):
                raise
            # Erased during the attempt: nothing to record on, and nothing is recreated.


class DynamoSubmitWindows:
    """The serverless home's submit throttle: ``burst`` submits per (application, window) item,
    taken by one conditional ADD, so no two concurrent submits both take the last one."""

    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    async def admit(self, app_id: str, rate: SubmitRate) -> float:
        now = self._clock()
        window = rate.window(now)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_dynamo({"app_id": app_id, "reference_id": f"{RATE_SORT_KEY_PREFIX}{window}"}),
                UpdateExpression="SET expires_at = :expires ADD submits :one",
                ConditionExpression="attribute_not_exists(submits) OR submits < :burst",
                ExpressionAttributeValues=_dynamo({
                    ":one": 1, ":burst": rate.burst,
                    ":expires": int(rate.window_end(window) + RATE_WINDOW_GRACE_SECONDS),
                }),
            )
        except ClientError as error:
            if _conditional_failure(error):
                return rate.window_end(window) - now  # the next window starts empty
            raise
        return 0.0


class S3ImageStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def put(self, data: bytes, image_format: str) -> str:
        # Random keys, never derived from client input.
        key = f"images/{uuid.uuid4().hex}.{'jpg' if image_format == 'JPEG' else 'png'}"
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=data, ServerSideEncryption="AES256",
            ContentType="image/jpeg" if image_format == "JPEG" else "image/png",
        )
        return key

    async def get(self, reference: str) -> bytes:
        return self._client.get_object(Bucket=self._bucket, Key=reference)["Body"].read()

    async def delete(self, reference: str) -> None:
        answer = self._client.delete_object(Bucket=self._bucket, Key=reference)
        if answer.get("DeleteMarker") or answer.get("VersionId"):
            # A versioned bucket keeps the bytes as a noncurrent version behind a delete marker:
            # remove every version so the image is really gone (the template's bucket is not
            # versioned; this needs s3:ListBucketVersions and s3:DeleteObjectVersion where it is).
            self._delete_versions(reference)

    def _delete_versions(self, key: str) -> None:
        pages = self._client.get_paginator("list_object_versions").paginate(Bucket=self._bucket, Prefix=key)
        for page in pages:
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry["Key"] == key:
                    self._client.delete_object(Bucket=self._bucket, Key=key, VersionId=entry["VersionId"])


class SqsQueue:
    """A queue of job keys (app_id, reference_id): the OCR work queue and the callback queue."""

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url

    async def enqueue(self, app_id: str, reference_id: str) -> None:
        self._client.send_message(
            QueueUrl=self.url, MessageBody=json.dumps({"app_id": app_id, "reference_id": reference_id})
        )


def job_key(message_body: str) -> tuple[str, str]:
    body = json.loads(message_body)
    return str(body["app_id"]), str(body["reference_id"])
