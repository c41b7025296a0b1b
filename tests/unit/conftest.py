"""Unit-test fixtures: moto for AWS, an httpx.MockTransport provider, the handlers loaded from functions/."""

from __future__ import annotations

import base64
import functools
import importlib.util
import io
import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
TABLE_NAME = "ktp-jobs-test"
REGION = "ap-southeast-3"
BUCKET = json.loads((EVENTS / "s3_put.json").read_text())["Records"][0]["s3"]["bucket"]["name"]
PROVIDER_URL = "https://provider.test"
CALLBACK_URL = "https://callback.test/callback"
CALLBACK_USER, CALLBACK_PASSWORD = "ktp-callback", "local-callback-password"
PROVIDER_SECRET, CALLBACK_SECRET = "test/provider", "test/callback"
APP_ID, API_KEY = "app-123", "key-456"


# --- the jobs table, as template.yaml declares it ------------------------------------------------


@functools.cache
def jobs_table_definition() -> dict[str, Any]:
    """The JobsTable keys and indexes exactly as template.yaml declares them (parsed once per session)."""
    props = yaml_parse((REPO / "template.yaml").read_text(encoding="utf-8"))["Resources"]["JobsTable"]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")}


def create_jobs_table(client: Any) -> None:
    definition = jobs_table_definition()
    client.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=definition["AttributeDefinitions"],
        KeySchema=definition["KeySchema"],
        GlobalSecondaryIndexes=definition["GlobalSecondaryIndexes"],
        BillingMode="PAY_PER_REQUEST",
    )


# --- a fake provider behind httpx.MockTransport ----------------------------------------------------


@dataclass
class FakeProvider:
    """Answers the contract's two endpoints. Tests set `submit_reply` / `result_reply` callables."""

    submits: list[dict[str, Any]] = field(default_factory=list)
    result_requests: list[str] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    submit_reply: Callable[[dict[str, Any]], httpx.Response] | None = None
    result_reply: Callable[[str], httpx.Response] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.headers_seen.append(dict(request.headers))
        if request.url.path == "/ktp/id/extract-async" and request.method == "POST":
            body = json.loads(request.content)
            with self.lock:
                self.submits.append(body)
            if self.submit_reply:
                return self.submit_reply(body)
            return httpx.Response(200, json={"message": "accepted", "data": {"reference_id": body.get("reference_id")}})
        if request.url.path == "/ktp/id/extract-async/result" and request.method == "GET":
            ref = request.url.params.get("reference_id", "")
            with self.lock:
                self.result_requests.append(ref)
            if self.result_reply:
                return self.result_reply(ref)
            return httpx.Response(404, json={"message": "not found", "error_code": "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"})
        return httpx.Response(404, json={"message": "no route"})


def error_reply(status: int, code: str | None) -> Callable[..., httpx.Response]:
    body = {"message": "error"} | ({"error_code": code} if code else {})
    return lambda *_: httpx.Response(status, json=body)


def completed_body(ref: str, nested: bool = True) -> dict[str, Any]:
    fields = {"reference_id": ref, "nik": "3171234567890001", "full_name": "CONTOH NAMA", "gender": "LAKI-LAKI",
              "blood_type": "-", "city": "JAKARTA PUSAT", "state": "DKI JAKARTA",
              "image_quality": {"blur": False, "dark": False, "flashlight": False, "grayscale": False}}
    if nested:
        return {"message": "success", "status_code": "BILLED", "data": fields}
    return {"message": "success", "status_code": "BILLED", **fields}


def extractor_body(ref: str) -> dict[str, Any]:
    """A completed result exactly as the built-in extractor sends it (callback and GET result):
    the contract's envelope plus its `ktp_extractor` object with confidence, validity, issue
    place/date, raw text and checks."""
    from extractor.result import Check, FieldReading, KtpExtraction
    from extractor.service.results import extraction_body

    readings = {"nik": ("3171234567890001", 0.97), "full_name": ("CONTOH NAMA", 0.91), "city": ("JAKARTA PUSAT", 0.88),
                "valid_until": ("SEUMUR HIDUP", 0.95), "issue_city": ("JAKARTA PUSAT", 0.8), "issue_date": ("01-02-2015", 0.75)}
    extraction = KtpExtraction(
        ktp_detected=True, engine="test-engine",
        fields={name: FieldReading(value=value, raw=value, confidence=score) for name, (value, score) in readings.items()},
        checks=[Check(name="nik_structure", ok=True, detail="16 digits, valid date and serial")],
    )
    _code, body = extraction_body(ref, extraction, validate_quality=False, timings={"total_seconds": 1.25})
    return body


# --- images ---------------------------------------------------------------------------------------


def make_image(width: int = 1000, height: int = 640, fmt: str = "JPEG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, format=fmt)
    return buffer.getvalue()


# --- Lambda plumbing ------------------------------------------------------------------------------


@dataclass
class FakeContext:
    remaining_ms: int = 300_000
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-southeast-3:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_handler(name: str) -> Any:
    module_name = f"_handler_{name}"
    spec = importlib.util.spec_from_file_location(module_name, REPO / "functions" / name / "app.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from ktp_pipeline.settings import Settings

    # The pipeline's variables come from its settings model (their one definition), by field name.
    settings = Settings(
        jobs_table_name=TABLE_NAME, provider_base_url=PROVIDER_URL, provider_secret_id=PROVIDER_SECRET,
        callback_secret_id=CALLBACK_SECRET, callback_url=CALLBACK_URL, validate_quality=True,
        poller_max_concurrency=4,
    )
    values = {
        "AWS_DEFAULT_REGION": "ap-southeast-3",
        "AWS_REGION": "ap-southeast-3",
        **settings.to_env(),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "KtpPipeline",
        "POWERTOOLS_SERVICE_NAME": "ktp-pipeline",
    }
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@dataclass
class Stack:
    dynamodb: Any
    s3: Any
    secrets: Any
    provider: FakeProvider

    def item(self, ref: str) -> dict[str, Any] | None:
        from ktp_pipeline.dynamo_values import from_item
        from ktp_pipeline.models import JobRecord

        found = self.dynamodb.get_item(TableName=TABLE_NAME, Key={"reference_id": {"S": ref}}, ConsistentRead=True)
        return JobRecord.model_validate(from_item(found["Item"])).model_dump(exclude_unset=True) if "Item" in found \
            else None

    def raw_item(self, ref: str) -> dict[str, Any] | None:
        return self.dynamodb.get_item(TableName=TABLE_NAME, Key={"reference_id": {"S": ref}}).get("Item")

    def put_object(self, key: str, data: bytes) -> dict[str, Any]:
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        return {"etag": response["ETag"].strip('"'), "version_id": response.get("VersionId"), "size": len(data)}

    def s3_event(self, key: str, data: bytes | None = None, *, size: int | None = None) -> dict[str, Any]:
        """events/s3_put.json re-pointed at a real object (same encoded-key style as S3 sends)."""
        from urllib.parse import quote_plus

        event = load_event("s3_put.json")
        obj = event["Records"][0]["s3"]["object"]
        if data is not None:
            meta = self.put_object(key, data)
            obj.update({"eTag": meta["etag"], "versionId": meta["version_id"], "size": meta["size"]})
        obj["key"] = quote_plus(key, safe="/")
        if size is not None:
            obj["size"] = size
        return event


@pytest.fixture(scope="package")
def aws() -> Iterator[Any]:
    """One moto for the whole unit package, with clients made once.

    Starting moto resets boto3's default session, so each fresh `mock_aws()` re-parsed the service
    models and re-created every client: that set-up was most of the unit tests' time. Tests get
    empty backends from `stack` instead. Package scope keeps the patch out of the other test dirs.
    """
    with mock_aws() as mock:
        region = {"region_name": REGION}
        yield mock, boto3.client("dynamodb", **region), boto3.client("s3", **region), \
            boto3.client("secretsmanager", **region)


@pytest.fixture
def stack(env: dict[str, str], aws: Any, monkeypatch: pytest.MonkeyPatch):
    from aws_lambda_powertools.utilities import parameters
    from ktp_pipeline import secrets, wiring
    from ktp_pipeline.provider_client import ProviderClient

    # The provider's in-call backoff, real seconds in the handlers' client (test_provider_client checks it).
    monkeypatch.setitem(ProviderClient.__init__.__kwdefaults__, "sleep", lambda _seconds: None)
    mock, dynamodb, s3, sm = aws
    mock.reset()  # every moto backend empty: nothing one test wrote is seen by the next
    create_jobs_table(dynamodb)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    sm.create_secret(Name=PROVIDER_SECRET, SecretString=json.dumps({"app_id": APP_ID, "api_key": API_KEY}))
    sm.create_secret(Name=CALLBACK_SECRET,
                     SecretString=json.dumps({"username": CALLBACK_USER, "password": CALLBACK_PASSWORD}))
    provider = FakeProvider()
    parameters.clear_caches()
    secrets.reset_refresh_limiter()
    wiring.http_transport = httpx.MockTransport(provider)
    wiring.reset()
    try:
        yield Stack(dynamodb, s3, sm, provider)
    finally:
        wiring.http_transport = None
        wiring.reset()
        parameters.clear_caches()


@pytest.fixture(scope="session")
def handlers() -> dict[str, Any]:
    return {name: load_handler(name) for name in ("submit", "callback", "poller")}


@pytest.fixture
def logs():
    """Everything the Powertools logger writes during the test (it holds its own stream)."""
    from ktp_pipeline.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)
