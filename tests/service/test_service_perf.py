"""Throughput-related behaviour of the service, checked for correctness (never for time).

This module doubles as a tiny engine (``warm_up``/``extract``) that the worker processes load by
module name, so a test can see what each worker process was given.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from extractor.result import KtpExtraction
from extractor.service.workers import THREADS_ENV, WorkerPool, available_cores, ocr_threads_per_worker


def warm_up() -> None:
    return None


def extract(image: bytes) -> KtpExtraction:
    # Report this worker's OCR thread budget and process id through the engine name.
    return KtpExtraction(ktp_detected=False, engine=f"{os.environ.get(THREADS_ENV)}:{os.getpid()}")


@pytest.mark.parametrize("workers, cores, threads", [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4), (4, 1, 1)])
def test_each_worker_gets_an_equal_share_of_the_cores(workers, cores, threads):
    assert ocr_threads_per_worker(workers, cores) == threads


def _engine_names(tmp_path, workers: int, jobs: int) -> list[str]:
    image = tmp_path / "card.jpg"
    image.write_bytes(b"not decoded by this engine")

    async def run() -> list[str]:
        pool = WorkerPool(workers, __name__)
        try:
            await pool.warm_up()
            outcomes = await asyncio.gather(*(pool.run(str(image)) for _ in range(jobs)))
        finally:
            await asyncio.to_thread(pool.shutdown)
        return [outcome["extraction"]["engine"] for outcome in outcomes]

    return asyncio.run(run())


def test_workers_run_with_their_share_of_the_cores(tmp_path, monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    names = _engine_names(tmp_path, workers=2, jobs=6)
    assert {name.split(":")[0] for name in names} == {str(ocr_threads_per_worker(2, available_cores()))}
    assert len({name.split(":")[1] for name in names}) <= 2  # only the pool's own processes ran them


def test_an_explicit_thread_budget_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    assert {name.split(":")[0] for name in _engine_names(tmp_path, workers=2, jobs=2)} == {"3"}
