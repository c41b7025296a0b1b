"""The erasure extension: DELETE on the result path removes a job's result, its queued callbacks and
its image, for the App-ID that owns it only (real HTTP on 127.0.0.1, fake OCR engine), against both
homes of the extractor: `ktp serve` (SQLite and files) and the serverless extractor's handlers on
moto behind the local HTTP API emulation."""

from __future__ import annotations

import pytest
from service_harness import AUTH, AUTH2, ServerlessService, Service, b64, jpeg, wait_until

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
RESULT = "/ktp/id/extract-async/result"
NIK = b"3275014101900007"  # the fake engine's


@pytest.fixture(scope="module", params=["serve", "serverless"])
def service(request, tmp_path_factory, gate, listener):
    listener.received.clear()
    listener.statuses.clear()
    data_dir = tmp_path_factory.mktemp(f"erasure-{request.param}") / "data"
    if request.param == "serve":
        svc = Service(data_dir=data_dir, extra_args=["--local", "--callback-backoff", "1", "--callback-max-attempts", "4"],
                      env={"FAKE_ENGINE_GATE": str(gate)})
    else:
        svc = ServerlessService(data_dir=data_dir, env={
            "FAKE_ENGINE_GATE": str(gate), "KTP_CALLBACK_BACKOFF_SECONDS": "1", "KTP_CALLBACK_MAX_ATTEMPTS": "4",
        })
    svc.start()
    yield svc
    svc.kill()


@pytest.fixture
def client(service):
    with service.client() as http:
        yield http


def _finished(client, reference_id):
    answer = client.get(RESULT, params={"reference_id": reference_id}, headers=AUTH)
    return answer.status_code == 200 and answer.json()["message"] != "processing"


def test_delete_erases_a_finished_job_for_its_owner_only(client, service):
    assert client.post(SUBMIT, json={"image": b64(jpeg()), "reference_id": "erase-me-01"}, headers=AUTH).status_code == 200
    wait_until(lambda: _finished(client, "erase-me-01"), what="result")
    # Another application cannot erase (or see) it.
    other = client.delete(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH2)
    assert other.status_code == 404 and other.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"
    assert client.delete(RESULT, params={"reference_id": "erase-me-01"}, headers={}).status_code == 401
    assert service.job_records("erase-me-01") == 1

    deleted = client.delete(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": "deleted", "data": {"reference_id": "erase-me-01"}}
    gone = client.get(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH)
    assert gone.status_code == 404
    again = client.delete(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH)
    assert again.status_code == 404 and again.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"
    assert service.job_records("erase-me-01") == 0
    if isinstance(service, Service):
        # Not left in free pages or the WAL either (this was the only job so far).
        for path in service.data_dir.glob("extractor.sqlite3*"):
            assert NIK not in path.read_bytes(), path.name


def test_delete_of_an_unfinished_job_removes_its_image_and_no_callback_follows(client, service, gate):
    gate.touch()
    try:
        body = {"image": b64(jpeg()), "reference_id": "erase-queued", "callback_url": "http://127.0.0.1:9/cb"}
        assert client.post(SUBMIT, json=body, headers=AUTH).status_code == 200
        assert service.stored_images()
        assert client.delete(RESULT, params={"reference_id": "erase-queued"}, headers=AUTH).status_code == 200
        assert service.stored_images() == []
    finally:
        gate.unlink()
    # The worker's late write finds no job and recreates nothing. A job submitted after it and
    # finished on the same single worker means the worker is past the erased one.
    assert client.post(SUBMIT, json={"image": b64(jpeg()), "reference_id": "erase-after"}, headers=AUTH).status_code == 200
    wait_until(lambda: _finished(client, "erase-after"), what="the next job")
    if isinstance(service, Service):
        wait_until(lambda: client.get("/health").json()["jobs"]["processing"] == 0, what="worker idle")
    assert client.get(RESULT, params={"reference_id": "erase-queued"}, headers=AUTH).status_code == 404
    assert service.job_records("erase-queued") == 0
    assert service.stored_images() == []


def test_delete_drops_a_pending_callback(client, service, listener):
    listener.statuses[:] = [500]  # the first attempt fails; the retry waits out the backoff
    body = {"image": b64(jpeg()), "reference_id": "erase-pending-cb", "callback_url": f"{listener.url}/erase-cb"}
    assert client.post(SUBMIT, json=body, headers=AUTH).status_code == 200
    wait_until(lambda: listener.for_path("/erase-cb"), what="the first callback attempt")
    assert client.delete(RESULT, params={"reference_id": "erase-pending-cb"}, headers=AUTH).status_code == 200
    assert service.job_records("erase-pending-cb") == 0
    if isinstance(service, ServerlessService):
        # The retry message comes back after the backoff, finds no job and is acknowledged.
        wait_until(lambda: '"callback_dropped"' in service.logs() and "erase-pending-cb" in service.logs(),
                   what="the callback message dropped")
        assert service.job_records("erase-pending-cb") == 0
    assert len(listener.for_path("/erase-cb")) == 1


def test_delete_validates_the_reference_id(client):
    assert client.delete(RESULT, headers=AUTH).status_code == 404
    assert client.delete(RESULT, params={"reference_id": "x"}, headers=AUTH).json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID"


def test_other_methods_on_the_result_path_are_405(client):
    answer = client.put(RESULT, params={"reference_id": "abcdef"}, headers=AUTH)
    assert answer.status_code == 405 and answer.json()["error_code"] == "METHOD_NOT_ALLOWED"
