"""OCR worker processes.

OCR is CPU-bound, so it runs in a pool of separate processes (spawned, not forked: the server
process has threads and an event loop that must not be duplicated). Each worker imports the
engine and calls ``warm_up()`` once when it starts; the event loop only awaits futures.

Each worker gets an equal share of the cores as its OCR thread budget (``KTP_OCR_THREADS``,
unless set explicitly): left alone, every worker's ONNX Runtime would start one thread per core,
so two workers on two cores ran four busy threads and spent about 15 % more CPU per card, and a
single card's latency measured a worker using cores that belong to the others.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import ModuleType
from typing import Any

from extractor.service.outcome import run_engine

_engine: ModuleType | None = None

THREADS_ENV = "KTP_OCR_THREADS"  # read by extractor.engine.backends


def available_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ocr_threads_per_worker(workers: int, cores: int) -> int:
    return max(1, cores // max(1, workers))


def _exit_when_orphaned(parent_pid: int) -> None:
    """If the server dies without shutting the pool down (SIGKILL, OOM), idle workers would wait
    on their queue forever; each watches its parent and exits when it is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _init_worker(engine_module: str, ocr_threads: int, server_pid: int) -> None:
    global _engine
    os.environ.setdefault(THREADS_ENV, str(ocr_threads))  # before the engine is imported
    # Ctrl-C and a SIGTERM to the process group reach workers too; the parent decides how they
    # stop (it lets the running job finish), and the orphan watch covers the parent dying.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The server's pid comes from the server: a worker spawned just before the server died would
    # read its new parent (init) from getppid() and then wait for it forever.
    threading.Thread(target=_exit_when_orphaned, args=(server_pid,), daemon=True, name="orphan-watch").start()
    _engine = importlib.import_module(engine_module)
    _engine.warm_up()


def _ready() -> bool:
    return _engine is not None


def run_extraction(image_path: str) -> dict[str, Any]:
    """Runs in a worker: the shared engine call (outcome.run_engine) on the image file."""
    assert _engine is not None, "worker not initialised"
    try:
        data = Path(image_path).read_bytes()
    except OSError as exc:
        return {"ok": False, "failure": f"image unreadable: {type(exc).__name__}"}
    return run_engine(_engine, data)


class WorkerCrashed(Exception):
    """A worker process died while running a job (the pool has been rebuilt)."""


class WorkerPool:
    def __init__(self, size: int, engine_module: str) -> None:
        self.size = size
        self.ocr_threads = ocr_threads_per_worker(size, available_cores())
        self._engine_module = engine_module
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._engine_module, self.ocr_threads, os.getpid()),
        )

    async def warm_up(self) -> None:
        """Start every worker now (each loads the model once) instead of on the first job."""
        loop = asyncio.get_running_loop()
        # Concurrent submissions make the executor spawn all its processes.
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self.size)))

    async def run(self, image_path: str) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            return await loop.run_in_executor(executor, run_extraction, image_path)
        except BrokenProcessPool:
            if executor is self._executor:  # first to notice rebuilds; the others just retry
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
            raise WorkerCrashed from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
