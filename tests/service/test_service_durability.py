"""Durability: a crash mid-job loses nothing; quota persists; retention purges results."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest
from service_harness import AUTH, AUTH2, _children, b64, expected_basic_auth, jpeg, wait_until

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
RESULT = "/ktp/id/extract-async/result"


def _db_rows(data_dir, sql):
    with sqlite3.connect(f"file:{data_dir / 'extractor.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def test_kill_during_processing_then_restart_completes_job_and_callback(make_service, listener, tmp_path):
    gate = tmp_path / "hold"
    gate.touch()
    env = {"FAKE_ENGINE_GATE": str(gate)}
    first = make_service("--local", "--callback-backoff", "0.05", env=env)
    with first.client() as client:
        queued = []
        for n in range(3):  # one processing (held by the gate), two waiting in the queue
            ref = f"crash-job-{n}"
            response = client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg()), "reference_id": ref,
                                                               "callback_url": f"{listener.url}/cb/crash/{n}"})
            assert response.status_code == 200
            queued.append(ref)
        wait_until(lambda: client.get("/health").json()["jobs"]["processing"] == 1, what="a job processing")
    first.kill()
    assert len(list((first.data_dir / "images").iterdir())) == 3

    gate.unlink()
    second = make_service("--local", "--callback-backoff", "0.05", data_dir=first.data_dir, env=env)
    with second.client() as client:
        for n, ref in enumerate(queued):
            (callback,) = wait_until(lambda n=n: listener.for_path(f"/cb/crash/{n}"), what=f"callback {n}")
            assert callback.headers["Authorization"] == expected_basic_auth()
            body = client.get(RESULT, params={"reference_id": ref}, headers=AUTH).json()
            assert body["message"] == "success"
            assert callback.json() == body
    assert not any((first.data_dir / "images").iterdir())
    # The interrupted job was started twice; nothing else was duplicated.
    attempts = dict(_db_rows(first.data_dir, "SELECT reference_id, processing_attempts FROM jobs"))
    assert attempts == {"crash-job-0": 2, "crash-job-1": 1, "crash-job-2": 1}


def test_pending_callback_resumes_after_restart(make_service, listener):
    listener.statuses.extend([503] * 2)
    first = make_service("--local", "--callback-backoff", "60", "--callback-max-attempts", "5")
    with first.client() as client:
        client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg()), "reference_id": "resume-cb-1",
                                               "callback_url": f"{listener.url}/cb/resume"})
        # First attempt fails; the next is 60 s away when we crash. The listener sees the POST
        # before the service records its answer, so wait for the record, not only the request.
        wait_until(lambda: listener.for_path("/cb/resume"), what="first attempt")
        wait_until(
            lambda: _db_rows(first.data_dir, "SELECT attempts FROM deliveries WHERE reference_id = 'resume-cb-1'") == [(1,)],
            what="first attempt recorded",
        )
    first.kill()
    # Make the retry due now, as if the backoff had elapsed while the service was down.
    with sqlite3.connect(first.data_dir / "extractor.sqlite3") as db:
        db.execute("UPDATE deliveries SET next_attempt_at = 0 WHERE reference_id = 'resume-cb-1'")
    make_service("--local", "--callback-backoff", "0.05", data_dir=first.data_dir)
    wait_until(lambda: len(listener.for_path("/cb/resume")) == 3, what="resumed delivery")
    states = _db_rows(first.data_dir, "SELECT state, attempts FROM deliveries WHERE reference_id = 'resume-cb-1'")
    assert states == [("delivered", 3)]


def test_quota_is_per_application_and_survives_restart(make_service):
    first = make_service("--quota", "2")
    with first.client() as client:
        for _ in range(2):
            assert client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg())}).status_code == 200
        refused = client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg())})
        assert refused.status_code == 403
        assert refused.json() == {"message": refused.json()["message"], "error_code": "INSUFFICIENT_QUOTA"}
        assert client.post(SUBMIT, headers=AUTH2, json={"image": b64(jpeg())}).status_code == 200
    first.stop()
    second = make_service("--quota", "2", data_dir=first.data_dir)
    with second.client() as client:
        assert client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg())}).status_code == 403


def test_retention_purge_removes_results(make_service):
    # 0.0005 h = 1.8 s retention, purged every 0.2 s.
    service = make_service("--retention-hours", "0.0005", "--purge-interval", "0.2")
    with service.client() as client:
        client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg()), "reference_id": "short-lived"})
        wait_until(
            lambda: client.get(RESULT, params={"reference_id": "short-lived"}, headers=AUTH).json()["message"] == "success",
            what="result",
        )
        wait_until(lambda: not _db_rows(service.data_dir, "SELECT 1 FROM jobs"), what="purge", timeout=60)
        gone = client.get(RESULT, params={"reference_id": "short-lived"}, headers=AUTH)
        assert gone.status_code == 404
        assert gone.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"


def test_worker_crash_is_survived_and_poison_job_fails_after_max_attempts(make_service):
    service = make_service()
    with service.client() as client:
        client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg(width=1004)), "reference_id": "poison-job-1"})

        def finished(ref):
            body = client.get(RESULT, params={"reference_id": ref}, headers=AUTH).json()
            return body if body["message"] != "processing" else None

        poisoned = wait_until(lambda: finished("poison-job-1"), timeout=120, what="poison job to fail")
        assert poisoned["error_code"] == "INTERNAL_SERVER_ERROR"
        # The pool was rebuilt: ordinary jobs still run.
        client.post(SUBMIT, headers=AUTH, json={"image": b64(jpeg()), "reference_id": "after-crash-1"})
        assert wait_until(lambda: finished("after-crash-1"), what="next job")["message"] == "success"
        assert client.get("/health").status_code == 200
    attempts = _db_rows(service.data_dir, "SELECT processing_attempts FROM jobs WHERE reference_id = 'poison-job-1'")
    assert attempts == [(4,)]  # three crashed runs, then given up on the fourth claim
    assert "worker_crashed" in service.logs()


def test_workers_exit_when_the_server_is_killed(make_service):
    service = make_service(workers=2)
    workers = _children(service.process.pid)
    assert len(workers) >= 2
    os.kill(service.process.pid, signal.SIGKILL)  # the server only: no shutdown code runs
    service.process.wait(timeout=10)

    def alive(pid: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited

    # A worker still importing its OCR model can hold the GIL for a while on a loaded machine; its
    # orphan watch runs once the import lets go.
    wait_until(lambda: not any(alive(pid) for pid in workers), timeout=90, what="orphaned workers to exit")
