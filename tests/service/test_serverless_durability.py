"""The serverless extractor's failure paths, on moto through the local runtime: a worker that dies
mid-job, a message delivered twice, callbacks that are never accepted."""

from __future__ import annotations

import json

import pytest
from service_harness import AUTH, ServerlessService, b64, jpeg, wait_until

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
RESULT = "/ktp/id/extract-async/result"


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    svc = ServerlessService(
        data_dir=tmp_path_factory.mktemp("serverless-durability") / "data",
        env={"KTP_CALLBACK_BACKOFF_SECONDS": "0.05", "KTP_CALLBACK_MAX_ATTEMPTS": "3"},
        work_visibility_seconds=1,
    ).start()
    yield svc
    svc.kill()


def _final(client, reference_id: str, timeout: float = 60.0) -> dict:
    def done():
        body = client.get(RESULT, params={"reference_id": reference_id}, headers=AUTH).json()
        return body if body["message"] != "processing" else None

    return wait_until(done, timeout=timeout, what=f"result of {reference_id}")


def test_worker_crash_is_retried_then_failed_with_internal_server_error(extractor):
    with extractor.client() as client:
        assert client.post(SUBMIT, json={"image": b64(jpeg(width=1004)), "reference_id": "crash-job-1"}, headers=AUTH).status_code == 200
        body = _final(client, "crash-job-1")
    assert body["error_code"] == "INTERNAL_SERVER_ERROR"
    assert body["status_code"] == "NOT_BILLED"
    item = extractor.job_item("crash-job-1")
    # Three starts died with the process; the fourth delivery found the attempts used up.
    assert int(item["processing_attempts"]) == 4
    assert item["state"] == "failed"
    assert "image_key" not in item
    assert extractor.stored_images() == []
    # The worker, not SQS's redrive, ended the job: nothing is stranded in the dead-letter queue.
    dlq = extractor.info["names"]["WorkDeadLetterQueue"]
    attributes = extractor.aws("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert "3275014101900007" not in extractor.logs()


def test_a_redelivered_message_never_changes_a_stored_result(extractor):
    with extractor.client() as client:
        client.post(SUBMIT, json={"image": b64(jpeg()), "reference_id": "twice-job-1"}, headers=AUTH)
        first = _final(client, "twice-job-1")
        before = extractor.job_item("twice-job-1")
        extractor.aws("sqs").send_message(
            QueueUrl=extractor.info["names"]["WorkQueue"],
            MessageBody=json.dumps({"app_id": AUTH["App-ID"], "reference_id": "twice-job-1"}),
        )
        marker = "twice-job-2"  # a later job through the same single worker: the duplicate was handled first
        client.post(SUBMIT, json={"image": b64(jpeg()), "reference_id": marker}, headers=AUTH)
        _final(client, marker)
        assert _final(client, "twice-job-1") == first
    after = extractor.job_item("twice-job-1")
    assert after["finished_at"] == before["finished_at"]
    assert after["processing_attempts"] == before["processing_attempts"] == 1


def test_callbacks_that_always_fail_are_recorded_and_abandoned(extractor, listener):
    listener.statuses.extend([503] * 3)
    with extractor.client() as client:
        client.post(
            SUBMIT, json={"image": b64(jpeg()), "reference_id": "lost-cb-001", "callback_url": listener.url + "/cb/lost"},
            headers=AUTH,
        )
        wait_until(lambda: (r := extractor.callback_attempts("lost-cb-001")) and r[-1][3] == "abandoned",
                   timeout=60, what="delivery abandoned")
        assert [(n, status) for n, status, _, _ in extractor.callback_attempts("lost-cb-001")] == [(1, 503), (2, 503), (3, 503)]
        assert len(listener.for_path("/cb/lost")) == 3
        # The result stays readable.
        assert _final(client, "lost-cb-001")["message"] == "success"
