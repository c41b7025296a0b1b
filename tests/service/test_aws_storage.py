"""The DynamoDB / S3 / SQS adapters (extractor/service/aws_storage.py) on moto, in process."""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest
from moto import mock_aws
from service_harness import b64, jpeg

from extractor.service.aws_storage import DynamoJobStore, DynamoSubmitWindows, S3ImageStore, SqsQueue
from extractor.service.errors import ContractError, ErrorCode
from extractor.service.intake import accept_job, read_result
from extractor.service.net_guard import NetPolicy
from extractor.service.settings import AppCredentials, ServiceSettings
from extractor.service.store import QuotaExhausted, ReferenceExists
from extractor.service.submission import Submission

REGION = "ap-southeast-3"
APP = AppCredentials(app_id="app-a", api_key="k")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="jobs", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "app_id", "AttributeType": "S"},
                                  {"AttributeName": "reference_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "app_id", "KeyType": "HASH"}, {"AttributeName": "reference_id", "KeyType": "RANGE"}],
        )
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="images", CreateBucketConfiguration={"LocationConstraint": REGION})
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="work")["QueueUrl"]
        yield ddb, s3, sqs, url


def run(coro):
    return asyncio.run(coro)


def test_insert_is_conditional_per_application_and_counts_the_quota(aws):
    ddb, *_ = aws
    store = DynamoJobStore(ddb, "jobs", retention_hours=1)
    run(store.insert_job("app-a", "ref-0001", False, None, "images/x.jpg", quota=2))
    with pytest.raises(ReferenceExists):
        run(store.insert_job("app-a", "ref-0001", False, None, "images/y.jpg", quota=2))
    run(store.insert_job("app-b", "ref-0001", False, None, "images/z.jpg", quota=2))  # another application
    run(store.insert_job("app-a", "ref-0002", True, "https://cb.example/x", "images/w.jpg", quota=2))
    assert not run(store.quota_left("app-a", 2))
    with pytest.raises(QuotaExhausted):
        run(store.insert_job("app-a", "ref-0003", False, None, "images/v.jpg", quota=2))
    assert run(store.get_job("app-a", "ref-0003")) is None  # the refused transaction wrote nothing
    job = run(store.get_job("app-a", "ref-0002"))
    assert (job.state, job.validate_quality, job.callback_url, job.image_path) == ("queued", True, "https://cb.example/x", "images/w.jpg")


def test_a_result_is_stored_once_and_expires_with_the_retention(aws):
    ddb, *_ = aws
    clock = Clock()
    store = DynamoJobStore(ddb, "jobs", retention_hours=1, clock=clock)
    run(store.insert_job("app-a", "ref-0001", False, "https://cb.example/x", "images/x.jpg", quota=None))
    claimed = run(store.claim("app-a", "ref-0001"))
    assert (claimed.state, claimed.processing_attempts) == ("processing", 1)
    assert run(store.finish_job(claimed, "completed", None, {"message": "success"})) is True
    assert run(store.finish_job(claimed, "failed", "INTERNAL_SERVER_ERROR", {"message": "x"})) is False
    assert run(store.claim("app-a", "ref-0001")) is None
    job = run(store.get_job("app-a", "ref-0001"))
    assert (job.state, job.result, job.image_path) == ("completed", {"message": "success"}, None)
    assert run(store.delivery("app-a", "ref-0001")) == ("pending", 0)
    item = ddb.get_item(TableName="jobs", Key={"app_id": {"S": "app-a"}, "reference_id": {"S": "ref-0001"}})["Item"]
    assert int(item["expires_at"]["N"]) == int(clock.now + 3600)
    clock.now += 3601  # TTL deletion lags; reads must not serve the expired item meanwhile
    assert run(store.get_job("app-a", "ref-0001")) is None


def test_attempts_are_appended_to_the_job(aws):
    ddb, *_ = aws
    store = DynamoJobStore(ddb, "jobs", retention_hours=1)
    run(store.insert_job("app-a", "ref-0001", False, "https://cb.example/x", "images/x.jpg", quota=None))
    run(store.record_attempt("app-a", "ref-0001", 500, "HTTP 500", "pending"))
    run(store.record_attempt("app-a", "ref-0001", 200, None, "delivered"))
    assert run(store.delivery("app-a", "ref-0001")) == ("delivered", 2)


class FailingQueue:
    async def enqueue(self, app_id: str, reference_id: str) -> None:
        raise ConnectionError("queue down")


@pytest.mark.parametrize("queue_works", [True, False])
def test_accept_job_stores_image_job_and_message_or_ends_the_job(aws, queue_works):
    ddb, s3, sqs, url = aws
    store, images = DynamoJobStore(ddb, "jobs", retention_hours=1), S3ImageStore(s3, "images")
    queue = SqsQueue(sqs, url) if queue_works else FailingQueue()
    submission = Submission(image=b64(jpeg()), validate_quality=False, reference_id="ref-0001", callback_url=None)

    async def accept():
        return await accept_job(
            settings=ServiceSettings(apps=(APP,)), store=store, images=images, queue=queue,
            policy=NetPolicy(allow_loopback=False), fetch_client=None, app=APP, submission=submission,
        )

    if queue_works:
        assert run(accept()) == "ref-0001"
        (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
        assert json.loads(message["Body"]) == {"app_id": "app-a", "reference_id": "ref-0001"}
        (obj,) = s3.list_objects_v2(Bucket="images")["Contents"]
        assert s3.head_object(Bucket="images", Key=obj["Key"])["ServerSideEncryption"] == "AES256"
        assert run(read_result(store, ServiceSettings(), "app-a", "ref-0001"))["message"] == "processing"
    else:
        with pytest.raises(ConnectionError):
            run(accept())
        # Never left queued with no worker told: the job is failed and its image gone.
        body = run(read_result(store, ServiceSettings(), "app-a", "ref-0001"))
        assert body["error_code"] == "INTERNAL_SERVER_ERROR"
        assert "Contents" not in s3.list_objects_v2(Bucket="images")
    with pytest.raises(ContractError) as refused:
        run(accept())
    assert refused.value.code == ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_EXISTS


def _runtime(aws, callback_url: str | None = None):
    import time

    from extractor.serverless.config import Runtime

    ddb, s3, sqs, url = aws
    callbacks_url = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    return Runtime(
        settings=ServiceSettings(apps=(APP,), local=True), store=DynamoJobStore(ddb, "jobs", retention_hours=1),
        images=S3ImageStore(s3, "images"), throttle=DynamoSubmitWindows(ddb, "jobs"), work=SqsQueue(sqs, url), callbacks=SqsQueue(sqs, callbacks_url), sqs=sqs,
        loaded_at=time.monotonic(),
    )


def _message(reference_id: str) -> dict:
    body = json.dumps({"app_id": "app-a", "reference_id": reference_id})
    return {"Records": [{"messageId": "m-1", "receiptHandle": "r-1", "body": body}]}


def _table_items(ddb) -> list[str]:
    return [item["reference_id"]["S"] for item in ddb.scan(TableName="jobs")["Items"]]


def test_delete_job_removes_the_job_item_only_and_returns_it(aws):
    ddb, *_ = aws
    clock = Clock()
    store = DynamoJobStore(ddb, "jobs", retention_hours=1, clock=clock)
    run(store.insert_job("app-a", "ref-0001", False, "https://cb.example/x", "images/x.jpg", quota=5))
    assert run(store.delete_job("app-b", "ref-0001")) is None  # another application's key
    job = run(store.delete_job("app-a", "ref-0001"))
    assert (job.reference_id, job.image_path, job.callback_url) == ("ref-0001", "images/x.jpg", "https://cb.example/x")
    assert run(store.delete_job("app-a", "ref-0001")) is None
    assert run(store.delete_job("app-a", "#usage")) is None  # the quota count is not a job
    assert _table_items(ddb) == ["#usage"]
    # Later writes for the erased job recreate nothing.
    run(store.record_attempt("app-a", "ref-0001", 500, "HTTP 500", "pending"))
    assert run(store.claim("app-a", "ref-0001")) is None
    assert _table_items(ddb) == ["#usage"]
    # An expired item TTL has not removed yet still holds data: erasing it is a real deletion.
    run(store.insert_job("app-a", "ref-0002", False, None, "images/y.jpg", quota=5))
    clock.now += 30 * 24 * 3600
    assert run(store.get_job("app-a", "ref-0002")) is None
    assert run(store.delete_job("app-a", "ref-0002")).reference_id == "ref-0002"
    assert _table_items(ddb) == ["#usage"]


@pytest.mark.parametrize("versioned", [False, True])
def test_image_delete_leaves_no_version_behind(aws, versioned):
    _, s3, *_ = aws
    if versioned:
        s3.put_bucket_versioning(Bucket="images", VersioningConfiguration={"Status": "Enabled"})
    images = S3ImageStore(s3, "images")
    key = run(images.put(jpeg(), "JPEG"))
    run(images.put(jpeg(), "JPEG"))  # another job's image stays
    run(images.delete(key))
    listing = s3.list_object_versions(Bucket="images")
    left = [v["Key"] for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]]
    assert key not in left and len(left) == 1


def test_erase_then_work_message_is_acknowledged_and_leaves_nothing_behind(aws):
    import fake_ktp_engine

    from extractor.serverless import delivery, worker
    from extractor.service.intake import erase_job

    ddb, s3, sqs, url = aws
    runtime = _runtime(aws)
    submission = Submission(image=b64(jpeg()), validate_quality=False, reference_id="ref-0001",
                            callback_url="http://127.0.0.1:9/cb")
    run(accept_job(settings=runtime.settings, store=runtime.store, images=runtime.images, queue=runtime.work,
                   policy=NetPolicy(allow_loopback=True), fetch_client=None, app=APP, submission=submission))
    assert s3.list_objects_v2(Bucket="images").get("Contents")
    assert run(erase_job(runtime.store, runtime.images, "app-a", "ref-0001")) == {
        "message": "deleted", "data": {"reference_id": "ref-0001"}}
    # The work message queued at submit still arrives: acknowledged (no batch-item failure), no
    # result written, no callback queued, no image.
    assert worker.handle(runtime, fake_ktp_engine, _message("ref-0001")) == {"batchItemFailures": []}
    assert delivery.handle(runtime, _message("ref-0001")) == {"batchItemFailures": []}
    assert _table_items(ddb) == ["#usage"]
    assert "Contents" not in s3.list_objects_v2(Bucket="images")
    assert "Messages" not in sqs.receive_message(QueueUrl=runtime.callbacks.url, WaitTimeSeconds=0)
    with pytest.raises(ContractError) as unknown:
        run(erase_job(runtime.store, runtime.images, "app-a", "ref-0001"))
    assert unknown.value.code == ErrorCode.INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND


def test_a_job_erased_while_processing_is_not_written_back(aws):
    import fake_ktp_engine

    from extractor.serverless import worker
    from extractor.service.intake import erase_job

    ddb, s3, *_ = aws
    runtime = _runtime(aws)
    image = run(runtime.images.put(jpeg(), "JPEG"))
    run(runtime.store.insert_job("app-a", "ref-0001", False, "http://127.0.0.1:9/cb", image, quota=None))
    claimed = run(runtime.store.claim("app-a", "ref-0001"))
    run(erase_job(runtime.store, runtime.images, "app-a", "ref-0001"))
    # The worker's finish after the erasure: nothing stored, nothing queued, nothing recreated.
    run(worker._finish(runtime, claimed, None, {"message": "success"}))
    assert _table_items(ddb) == ["#usage"]
    assert "Contents" not in s3.list_objects_v2(Bucket="images")
    assert "Messages" not in runtime.sqs.receive_message(QueueUrl=runtime.callbacks.url, WaitTimeSeconds=0)
    assert worker.handle(runtime, fake_ktp_engine, _message("ref-0001")) == {"batchItemFailures": []}


def test_submit_windows_admit_a_burst_per_application_and_window(aws):
    from extractor.service.throttle import SubmitRate

    ddb, *_ = aws
    clock = Clock()
    windows = DynamoSubmitWindows(ddb, "jobs", clock=clock)
    rate = SubmitRate(per_second=2.0, burst=3)  # 3 submits per 1.5 s window
    clock.now = rate.window(clock.now) * rate.window_seconds  # the start of a window
    # 0.0 = admitted; a refusal says how long until the next window (here all of this one: 1.5 s).
    assert [run(windows.admit("app-a", rate)) for _ in range(5)] == pytest.approx([0.0, 0.0, 0.0, 1.5, 1.5])
    clock.now += 1.0
    assert run(windows.admit("app-a", rate)) == pytest.approx(0.5)
    clock.now -= 1.0
    assert run(windows.admit("app-b", rate)) == 0.0  # another application has its own counter
    item = ddb.get_item(TableName="jobs", Key={"app_id": {"S": "app-a"}, "reference_id": {"S": f"#rate#{rate.window(clock.now)}"}})["Item"]
    assert item["submits"] == {"N": "3"}  # a refused submit takes nothing
    assert int(item["expires_at"]["N"]) > clock.now  # TTL removes the window's item
    clock.now += rate.window_seconds  # the next window starts afresh
    assert run(windows.admit("app-a", rate)) == 0.0
    # The counter items are not jobs: no job read or erasure sees them.
    store = DynamoJobStore(ddb, "jobs", retention_hours=1, clock=clock)
    assert run(store.get_job("app-a", f"#rate#{rate.window(clock.now)}")) is None
    assert run(store.delete_job("app-a", f"#rate#{rate.window(clock.now)}")) is None
