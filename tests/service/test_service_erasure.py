"""The erasure extension: DELETE on the result path removes a job's result, its queued callbacks and
its image, for the App-ID that owns it only (real HTTP on 127.0.0.1, fake OCR engine)."""

from __future__ import annotations

import sqlite3

import pytest
from service_harness import AUTH, AUTH2, Service, b64, jpeg, wait_until

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
RESULT = "/ktp/id/extract-async/result"


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    return tmp_path_factory.mktemp("gate") / "hold"


@pytest.fixture(scope="module")
def service(tmp_path_factory, gate):
    svc = Service(data_dir=tmp_path_factory.mktemp("erasure") / "data", extra_args=["--local"],
                  env={"FAKE_ENGINE_GATE": str(gate)}).start()
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

    deleted = client.delete(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": "deleted", "data": {"reference_id": "erase-me-01"}}
    gone = client.get(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH)
    assert gone.status_code == 404
    again = client.delete(RESULT, params={"reference_id": "erase-me-01"}, headers=AUTH)
    assert again.status_code == 404 and again.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"
    with sqlite3.connect(service.data_dir / "extractor.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM jobs WHERE reference_id = 'erase-me-01'").fetchone() == (0,)
    # Not left in free pages or the WAL either (the fake engine's NIK; this was the only job so far).
    for path in service.data_dir.glob("extractor.sqlite3*"):
        assert b"3275014101900007" not in path.read_bytes(), path.name


def test_delete_of_a_queued_job_removes_its_image_and_no_callback_follows(client, service, gate):
    gate.touch()
    try:
        body = {"image": b64(jpeg()), "reference_id": "erase-queued", "callback_url": "http://127.0.0.1:9/cb"}
        assert client.post(SUBMIT, json=body, headers=AUTH).status_code == 200
        assert any((service.data_dir / "images").iterdir())
        assert client.delete(RESULT, params={"reference_id": "erase-queued"}, headers=AUTH).status_code == 200
        assert not any((service.data_dir / "images").iterdir())
    finally:
        gate.unlink()
    # The worker's late write finds no row: the job stays unknown. A job submitted after it and
    # finished means the worker is past the erased one.
    assert client.post(SUBMIT, json={"image": b64(jpeg()), "reference_id": "erase-after"}, headers=AUTH).status_code == 200
    wait_until(lambda: _finished(client, "erase-after"), what="the next job")
    wait_until(lambda: client.get("/health").json()["jobs"]["processing"] == 0, what="worker idle")
    assert client.get(RESULT, params={"reference_id": "erase-queued"}, headers=AUTH).status_code == 404
    with sqlite3.connect(service.data_dir / "extractor.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM deliveries WHERE reference_id = 'erase-queued'").fetchone() == (0,)


def test_delete_validates_the_reference_id(client):
    assert client.delete(RESULT, headers=AUTH).status_code == 404
    assert client.delete(RESULT, params={"reference_id": "x"}, headers=AUTH).json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID"
