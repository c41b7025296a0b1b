"""Durable state in one SQLite file: jobs, results, callback deliveries and their attempts, usage.

One-writer discipline: the database has exactly one connection, owned by one dedicated thread;
every read and write is a short function run on that thread (``await store.call(...)``), so
writes never contend, the event loop never blocks on disk, and each method is one transaction.
WAL mode keeps commits cheap and makes a crash at any point leave a consistent file.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    app_id              TEXT    NOT NULL,
    reference_id        TEXT    NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('queued', 'processing', 'completed', 'failed')),
    validate_quality    INTEGER NOT NULL,
    callback_url        TEXT,
    image_path          TEXT,
    created_at          REAL    NOT NULL,
    started_at          REAL,
    finished_at         REAL,
    processing_attempts INTEGER NOT NULL DEFAULT 0,
    error_code          TEXT,
    result_json         TEXT,
    PRIMARY KEY (app_id, reference_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id          TEXT    NOT NULL,
    reference_id    TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    body_json       TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'abandoned')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    created_at      REAL    NOT NULL,
    finished_at     REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE IF NOT EXISTS delivery_attempts (
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    attempted_at REAL    NOT NULL,
    http_status  INTEGER,
    error        TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE IF NOT EXISTS usage (
    app_id   TEXT PRIMARY KEY,
    accepted INTEGER NOT NULL
);
"""

TERMINAL_STATES = ("completed", "failed")


class ReferenceExists(Exception):
    pass


class QuotaExhausted(Exception):
    pass


@dataclass(frozen=True)
class Job:
    app_id: str
    reference_id: str
    state: str
    validate_quality: bool
    callback_url: str | None
    image_path: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    processing_attempts: int
    error_code: str | None
    result: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            app_id=row["app_id"],
            reference_id=row["reference_id"],
            state=row["state"],
            validate_quality=bool(row["validate_quality"]),
            callback_url=row["callback_url"],
            image_path=row["image_path"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            processing_attempts=row["processing_attempts"],
            error_code=row["error_code"],
            result=json.loads(row["result_json"]) if row["result_json"] else None,
        )


@dataclass(frozen=True)
class Delivery:
    id: int
    app_id: str
    reference_id: str
    url: str
    body_json: str
    state: str
    attempts: int
    next_attempt_at: float | None


@dataclass(frozen=True)
class PurgeReport:
    jobs: int
    deliveries: int
    image_paths: list[str]


class Store:
    """Async facade; each public coroutine runs one synchronous transaction on the writer thread."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ktp-store")
        self._conn: sqlite3.Connection | None = None

    # -- plumbing -------------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Results are personal data: owner-only file (SQLite gives -wal/-shm the same mode).
            os.close(os.open(self._path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an accepted job survives power loss
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(self._connection)

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(_close)
        self._executor.shutdown(wait=True)

    # -- jobs -----------------------------------------------------------------------------------

    async def reference_exists(self, app_id: str, reference_id: str) -> bool:
        def _q(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM jobs WHERE app_id = ? AND reference_id = ?", (app_id, reference_id)
            ).fetchone()
            return row is not None

        return await self._run(lambda: _q(self._connection()))

    async def quota_left(self, app_id: str, quota: int | None) -> bool:
        if quota is None:
            return True
        return await self._run(lambda: self._used(self._connection(), app_id) < quota)

    @staticmethod
    def _used(conn: sqlite3.Connection, app_id: str) -> int:
        row = conn.execute("SELECT accepted FROM usage WHERE app_id = ?", (app_id,)).fetchone()
        return row["accepted"] if row else 0

    @classmethod
    def _consume_quota(cls, conn: sqlite3.Connection, app_id: str, quota: int | None) -> None:
        if quota is not None and cls._used(conn, app_id) >= quota:
            raise QuotaExhausted(app_id)
        conn.execute(
            "INSERT INTO usage (app_id, accepted) VALUES (?, 1) "
            "ON CONFLICT (app_id) DO UPDATE SET accepted = accepted + 1",
            (app_id,),
        )

    async def insert_job(
        self,
        app_id: str,
        reference_id: str,
        validate_quality: bool,
        callback_url: str | None,
        image_path: str,
        quota: int | None,
    ) -> None:
        """Record an accepted job and count it against the quota, atomically."""

        def _tx(conn: sqlite3.Connection) -> None:
            self._consume_quota(conn, app_id, quota)
            try:
                conn.execute(
                    "INSERT INTO jobs (app_id, reference_id, state, validate_quality, callback_url, image_path, created_at)"
                    " VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                    (app_id, reference_id, int(validate_quality), callback_url, image_path, self._clock()),
                )
            except sqlite3.IntegrityError:
                raise ReferenceExists(reference_id) from None

        await self._run(self._tx, _tx)

    async def record_sandbox_submission(
        self, app_id: str, reference_id: str, quota: int | None, callback_url: str | None, body: dict[str, Any] | None
    ) -> None:
        """Sandbox submissions keep no job (their results are canned) but count against the quota
        and, with a callback URL, queue a real delivery."""

        def _tx(conn: sqlite3.Connection) -> None:
            self._consume_quota(conn, app_id, quota)
            if callback_url and body is not None:
                self._insert_delivery(conn, app_id, reference_id, callback_url, body)

        await self._run(self._tx, _tx)

    async def get_job(self, app_id: str, reference_id: str) -> Job | None:
        def _q() -> Job | None:
            row = self._connection().execute(
                "SELECT * FROM jobs WHERE app_id = ? AND reference_id = ?", (app_id, reference_id)
            ).fetchone()
            return Job.from_row(row) if row else None

        return await self._run(_q)

    async def requeue_unfinished(self) -> int:
        """At start-up: jobs a previous process was running go back to the queue."""

        def _tx(conn: sqlite3.Connection) -> int:
            return conn.execute("UPDATE jobs SET state = 'queued' WHERE state = 'processing'").rowcount

        return await self._run(self._tx, _tx)

    async def claim_queued(self, limit: int) -> list[Job]:
        """Oldest queued jobs become 'processing'; their attempt counter goes up."""

        def _tx(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                "SELECT app_id, reference_id FROM jobs WHERE state = 'queued' ORDER BY created_at LIMIT ?", (limit,)
            ).fetchall()
            now = self._clock()
            claimed = []
            for row in rows:
                key = (row["app_id"], row["reference_id"])
                conn.execute(
                    "UPDATE jobs SET state = 'processing', started_at = ?, processing_attempts = processing_attempts + 1"
                    " WHERE app_id = ? AND reference_id = ?",
                    (now, *key),
                )
                claimed.append(
                    Job.from_row(conn.execute("SELECT * FROM jobs WHERE app_id = ? AND reference_id = ?", key).fetchone())
                )
            return claimed

        return await self._run(self._tx, _tx)

    async def requeue(self, app_id: str, reference_id: str) -> None:
        def _tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE jobs SET state = 'queued' WHERE app_id = ? AND reference_id = ? AND state = 'processing'",
                (app_id, reference_id),
            )

        await self._run(self._tx, _tx)

    async def finish_job(
        self, job: Job, state: str, error_code: str | None, body: dict[str, Any]
    ) -> bool:
        """Store the result, drop the image reference and queue the callback in one transaction.

        Returns False (and changes nothing) if the job is already terminal.
        """
        assert state in TERMINAL_STATES

        def _tx(conn: sqlite3.Connection) -> bool:
            updated = conn.execute(
                "UPDATE jobs SET state = ?, error_code = ?, result_json = ?, finished_at = ?, image_path = NULL"
                " WHERE app_id = ? AND reference_id = ? AND state NOT IN ('completed', 'failed')",
                (state, error_code, json.dumps(body), self._clock(), job.app_id, job.reference_id),
            ).rowcount
            if updated and job.callback_url:
                self._insert_delivery(conn, job.app_id, job.reference_id, job.callback_url, body)
            return bool(updated)

        return await self._run(self._tx, _tx)

    async def delete_job(self, app_id: str, reference_id: str) -> Job | None:
        """Erase one job and its queued callbacks (they carry the result); the deleted job, so the
        caller can remove its image file, or None when there was none."""

        def _tx(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(
                "SELECT * FROM jobs WHERE app_id = ? AND reference_id = ?", (app_id, reference_id)
            ).fetchone()
            conn.execute("DELETE FROM deliveries WHERE app_id = ? AND reference_id = ?", (app_id, reference_id))
            if row is None:
                return None
            conn.execute("DELETE FROM jobs WHERE app_id = ? AND reference_id = ?", (app_id, reference_id))
            return Job.from_row(row)

        def _erase(conn: sqlite3.Connection) -> Job | None:
            # Deleted rows stay readable in free pages and in the WAL: zero them, then move the WAL
            # into the database and truncate it, so the erased result is gone from the files.
            conn.execute("PRAGMA secure_delete = ON")
            job = self._tx(_tx)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return job

        return await self._run(lambda: _erase(self._connection()))

    async def counts(self) -> dict[str, int]:
        def _q() -> dict[str, int]:
            rows = self._connection().execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
            counts = {state: 0 for state in ("queued", "processing", "completed", "failed")}
            counts.update({row["state"]: row["n"] for row in rows})
            pending = self._connection().execute(
                "SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'"
            ).fetchone()["n"]
            counts["callbacks_pending"] = pending
            return counts

        return await self._run(_q)

    # -- callback deliveries ----------------------------------------------------------------------

    def _insert_delivery(
        self, conn: sqlite3.Connection, app_id: str, reference_id: str, url: str, body: dict[str, Any]
    ) -> None:
        now = self._clock()
        conn.execute(
            "INSERT INTO deliveries (app_id, reference_id, url, body_json, state, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (app_id, reference_id, url, json.dumps(body), now, now),
        )

    async def due_deliveries(self, limit: int, exclude: set[int]) -> list[Delivery]:
        def _q() -> list[Delivery]:
            rows = self._connection().execute(
                "SELECT * FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at LIMIT ?",
                (self._clock(), limit + len(exclude)),
            ).fetchall()
            return [
                Delivery(
                    id=r["id"], app_id=r["app_id"], reference_id=r["reference_id"], url=r["url"],
                    body_json=r["body_json"], state=r["state"], attempts=r["attempts"],
                    next_attempt_at=r["next_attempt_at"],
                )
                for r in rows
                if r["id"] not in exclude
            ][:limit]

        return await self._run(_q)

    async def next_delivery_at(self, exclude: set[int]) -> float | None:
        """When the earliest pending delivery not in ``exclude`` (those being sent) is due."""

        def _q() -> float | None:
            rows = self._connection().execute(
                "SELECT id, next_attempt_at FROM deliveries WHERE state = 'pending' ORDER BY next_attempt_at LIMIT ?",
                (len(exclude) + 1,),
            ).fetchall()
            due = [r["next_attempt_at"] for r in rows if r["id"] not in exclude]
            return due[0] if due else None

        return await self._run(_q)

    async def record_attempt(
        self,
        delivery_id: int,
        http_status: int | None,
        error: str | None,
        delivered: bool,
        next_attempt_at: float | None,
    ) -> int:
        """Log one attempt; the delivery is done when delivered, abandoned when no retry is due."""

        def _tx(conn: sqlite3.Connection) -> int:
            now = self._clock()
            attempt = conn.execute("SELECT attempts FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
            if attempt is None:  # purged meanwhile
                return 0
            number = attempt["attempts"] + 1
            conn.execute(
                "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, http_status, error) VALUES (?, ?, ?, ?, ?)",
                (delivery_id, number, now, http_status, error),
            )
            if delivered:
                state, finished, next_at = "delivered", now, None
            elif next_attempt_at is None:
                state, finished, next_at = "abandoned", now, None
            else:
                state, finished, next_at = "pending", None, next_attempt_at
            conn.execute(
                "UPDATE deliveries SET attempts = ?, state = ?, finished_at = ?, next_attempt_at = ? WHERE id = ?",
                (number, state, finished, next_at, delivery_id),
            )
            return number

        return await self._run(self._tx, _tx)

    # -- retention --------------------------------------------------------------------------------

    async def purge(self, cutoff: float) -> PurgeReport:
        """Delete finished jobs and deliveries older than ``cutoff`` (epoch seconds).

        Unfinished jobs are kept whatever their age: they still owe the client a result.
        """

        def _tx(conn: sqlite3.Connection) -> PurgeReport:
            images = [
                r["image_path"]
                for r in conn.execute(
                    "SELECT image_path FROM jobs WHERE state IN ('completed', 'failed') AND finished_at < ?"
                    " AND image_path IS NOT NULL",
                    (cutoff,),
                ).fetchall()
            ]
            jobs = conn.execute(
                "DELETE FROM jobs WHERE state IN ('completed', 'failed') AND finished_at < ?", (cutoff,)
            ).rowcount
            deliveries = conn.execute("DELETE FROM deliveries WHERE created_at < ?", (cutoff,)).rowcount
            return PurgeReport(jobs=jobs, deliveries=deliveries, image_paths=images)

        return await self._run(self._tx, _tx)

    async def referenced_images(self) -> set[str]:
        def _q() -> set[str]:
            rows = self._connection().execute("SELECT image_path FROM jobs WHERE image_path IS NOT NULL").fetchall()
            return {r["image_path"] for r in rows}

        return await self._run(_q)
