"""The web jobs and molecules: one SQLite file (WAL), every state change one atomic transaction.

A job is one method (``xtb``, ``dft``) with its options on one stored molecule. Its states::

    queued -> running -> done | failed | cancelled
    queued -> cancelled
    running -> queued        (the server stopped: started again later, at most ``max_attempts`` times)
    running -> interrupted   (the server died during it ``max_attempts`` times: a retry is a new job)

A transition is ``UPDATE ... WHERE id = ? AND status IN (...)``: of two writers racing (a result
arriving while the user cancels), exactly one wins. The key of a job is a hash of its method, its
options (defaults filled in) and its molecule's key: the same request finds the same job.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molmtl.errors import InputError

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
#: States a job does not leave.
FINAL = ("done", "failed", "cancelled", "interrupted")
#: States whose job the same request is answered with (a failed one is retried as a new job).
REUSED = ("queued", "running", "done")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS molecules (
    key       TEXT PRIMARY KEY,
    molecule  TEXT NOT NULL,          -- molecule_to_json (JSON)
    given     TEXT NOT NULL,          -- how the client gave it: query, xyz or sdf
    created   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id           TEXT PRIMARY KEY,
    key          TEXT NOT NULL,       -- method + options + molecule key
    method       TEXT NOT NULL,
    options      TEXT NOT NULL,       -- JSON, defaults filled in
    molecule_key TEXT NOT NULL REFERENCES molecules (key),
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    stage        TEXT,
    fraction     REAL,
    estimate_s   REAL,
    time_limit_s REAL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    worker       TEXT,                -- Dask worker address and process id, while running
    error        TEXT,                -- one sentence, when failed, cancelled or interrupted
    result       TEXT,                -- MethodResult.to_json (JSON), when done
    cached       INTEGER NOT NULL DEFAULT 0,
    created      REAL NOT NULL,
    started      REAL,
    finished     REAL,
    updated      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key, created);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
"""


def job_key(method: str, options: dict[str, Any], molecule_key: str) -> str:
    """16 hex digits of SHA-256 over the method, its options and the molecule's key."""
    text = json.dumps({"method": method, "options": options, "molecule": molecule_key}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Job:
    """One row of the job table (see the module's docstring for the states)."""

    id: str
    key: str
    method: str
    options: dict[str, Any]
    molecule_key: str
    status: str
    stage: str | None
    fraction: float | None
    estimate_s: float | None
    time_limit_s: float | None
    attempts: int
    worker: str | None
    error: str | None
    result: dict[str, Any] | None
    cached: bool
    created: float
    started: float | None
    finished: float | None
    updated: float

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def elapsed_s(self, now: float | None = None) -> float | None:
        """Seconds it has run (so far, or in all when finished); None before it started."""
        if self.started is None:
            return None
        end = self.finished if self.finished is not None else (now or time.time())
        return max(0.0, end - self.started)


class JobStore:
    """The web server's jobs and molecules (SQLite, WAL). Safe for several threads and processes.

    Args:
        path: the SQLite file (created with its folder).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path} is not a usable molmtl web job store (SQLite): {exc}") from None

    def _connect(self) -> "_Closing":
        """A new connection (one per operation: safe across threads), closed by its ``with`` block."""
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # a finished result survives a power cut, not only a kill
        con.execute("PRAGMA foreign_keys=ON")
        return _Closing(con)

    def _write(self, sql: str, params: tuple) -> int:
        """Run one statement in its own transaction; the number of rows it changed."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                n = con.execute(sql, params).rowcount
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return n

    # ------------------------------------------------------------------ molecules
    def put_molecule(self, key: str, molecule: dict[str, Any], given: str) -> None:
        """Store a molecule under its key (a second put of the same key keeps the first)."""
        self._write("INSERT OR IGNORE INTO molecules (key, molecule, given, created) VALUES (?, ?, ?, ?)",
                    (key, json.dumps(molecule), given, time.time()))

    def get_molecule(self, key: str) -> dict[str, Any] | None:
        with self._connect() as con:
            row = con.execute("SELECT molecule FROM molecules WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["molecule"])

    # ------------------------------------------------------------------ jobs: reads
    def get(self, job_id: str) -> Job | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def latest(self, key: str, statuses: tuple[str, ...] = STATUSES) -> Job | None:
        """The newest job with ``key`` in one of ``statuses``."""
        marks = ",".join("?" * len(statuses))
        with self._connect() as con:
            row = con.execute(f"SELECT * FROM jobs WHERE key = ? AND status IN ({marks}) ORDER BY created DESC, rowid DESC "
                              "LIMIT 1", (key, *statuses)).fetchone()
        return None if row is None else _job(row)

    def with_status(self, *statuses: str, method: str | None = None, limit: int = 1000) -> list[Job]:
        """Jobs in ``statuses`` (oldest first), of ``method`` when given."""
        marks = ",".join("?" * len(statuses))
        sql, params = f"SELECT * FROM jobs WHERE status IN ({marks})", list(statuses)
        if method is not None:
            sql += " AND method = ?"
            params.append(method)
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY created, rowid LIMIT ?", (*params, limit)).fetchall()
        return [_job(r) for r in rows]

    def recent(self, limit: int = 50) -> list[Job]:
        with self._connect() as con:
            rows = con.execute("SELECT * FROM jobs ORDER BY created DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [_job(r) for r in rows]

    def count(self, *statuses: str) -> int:
        marks = ",".join("?" * len(statuses))
        with self._connect() as con:
            return int(con.execute(f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks})", statuses).fetchone()[0])

    # ------------------------------------------------------------------ jobs: writes
    def create(self, *, key: str, method: str, options: dict[str, Any], molecule_key: str, estimate_s: float | None,
               time_limit_s: float | None, result: dict[str, Any] | None = None) -> Job:
        """A new job, queued; or, given ``result`` (from the results store), done at once."""
        now = time.time()
        job_id = uuid.uuid4().hex[:16]
        status = "done" if result is not None else "queued"
        self._write("INSERT INTO jobs (id, key, method, options, molecule_key, status, estimate_s, time_limit_s, result, "
                    "cached, created, started, finished, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job_id, key, method, json.dumps(options), molecule_key, status, estimate_s, time_limit_s,
                     None if result is None else json.dumps(result), int(result is not None), now,
                     now if result is not None else None, now if result is not None else None, now))
        return self.get(job_id)

    def start(self, job_id: str) -> bool:
        """queued -> running (one more attempt); False if the job was not queued."""
        now = time.time()
        return self._write("UPDATE jobs SET status='running', attempts=attempts+1, started=?, stage='waiting for a worker', "
                           "fraction=NULL, error=NULL, updated=? WHERE id=? AND status='queued'", (now, now, job_id)) == 1

    def progress(self, job_id: str, stage: str, fraction: float | None, worker: str | None = None) -> bool:
        """Record a running job's stage (ignored once it is no longer running)."""
        return self._write("UPDATE jobs SET stage=?, fraction=?, worker=COALESCE(?, worker), updated=? "
                           "WHERE id=? AND status='running'", (stage[:200], fraction, worker, time.time(), job_id)) == 1

    def finish(self, job_id: str, result: dict[str, Any], *, cached: bool = False) -> bool:
        """running -> done with its result."""
        now = time.time()
        return self._write("UPDATE jobs SET status='done', result=?, cached=?, stage=NULL, fraction=NULL, error=NULL, "
                           "finished=?, updated=? WHERE id=? AND status='running'",
                           (json.dumps(result), int(cached), now, now, job_id)) == 1

    def fail(self, job_id: str, reason: str, *, status: str = "failed", from_statuses: tuple[str, ...] = ("running",)) -> bool:
        """running (or ``from_statuses``) -> failed / cancelled / interrupted, with one sentence why."""
        if status not in ("failed", "cancelled", "interrupted"):
            raise ValueError(f"not a failure state: {status}")
        marks = ",".join("?" * len(from_statuses))
        now = time.time()
        return self._write(f"UPDATE jobs SET status=?, error=?, stage=NULL, finished=?, updated=? "
                           f"WHERE id=? AND status IN ({marks})", (status, reason, now, now, job_id, *from_statuses)) == 1

    def requeue(self, job_id: str, reason: str) -> bool:
        """running -> queued (the server is stopping): it starts again, and this start is not counted."""
        return self._write("UPDATE jobs SET status='queued', attempts=MAX(attempts-1, 0), stage=?, fraction=NULL, "
                           "worker=NULL, started=NULL, updated=? WHERE id=? AND status='running'",
                           (reason, time.time(), job_id)) == 1

    def recover(self, max_attempts: int) -> tuple[int, int]:
        """At start: jobs left ``running`` by a server that died are queued again, or marked
        interrupted once they have started ``max_attempts`` times. Returns (re-queued, interrupted)."""
        now = time.time()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            interrupted = con.execute(
                "UPDATE jobs SET status='interrupted', error=?, stage=NULL, finished=?, updated=? "
                "WHERE status='running' AND attempts >= ?",
                (f"the server stopped during this job {max_attempts} times; retry it to run it again", now, now,
                 max_attempts)).rowcount
            requeued = con.execute(
                "UPDATE jobs SET status='queued', stage='re-queued: the server stopped while it ran', fraction=NULL, "
                "worker=NULL, started=NULL, updated=? WHERE status='running'", (now,)).rowcount
            con.execute("COMMIT")
        return requeued, interrupted


class _Closing:
    """A connection that closes at the end of a ``with`` block (sqlite3's own only commits)."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def __enter__(self) -> sqlite3.Connection:
        return self._con

    def __exit__(self, *exc) -> None:
        self._con.close()


def _job(row: sqlite3.Row) -> Job:
    return Job(id=row["id"], key=row["key"], method=row["method"], options=json.loads(row["options"]),
               molecule_key=row["molecule_key"], status=row["status"], stage=row["stage"], fraction=row["fraction"],
               estimate_s=row["estimate_s"], time_limit_s=row["time_limit_s"], attempts=row["attempts"],
               worker=row["worker"], error=row["error"], result=None if row["result"] is None else json.loads(row["result"]),
               cached=bool(row["cached"]), created=row["created"], started=row["started"], finished=row["finished"],
               updated=row["updated"])


__all__ = ["JobStore", "Job", "job_key", "STATUSES", "FINAL", "REUSED"]
