"""Durable results store: one SQLite file (WAL), one transaction per state change.

The key of a calculation is a hash of its canonical input: atomic numbers, geometry rounded to
1e-6 Angstrom, charge and multiplicity, the method's settings, and the code versions. A rerun of
the same input is a cache hit; a killed run loses nothing that finished (each result commits on
its own), and rows left ``running`` by a dead process are simply redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtl.chem.molecule import Molecule
from molmtl.data.cache import cache_dir
from molmtl.errors import InputError, NotFoundError

STATUSES = ("running", "done", "failed")
STORE_ENV = "MOLMTL_DFT_STORE"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calculations (
    key        TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    name       TEXT,
    formula    TEXT,
    smiles     TEXT,
    method     TEXT NOT NULL,
    input      TEXT NOT NULL,   -- canonical input (JSON)
    result     TEXT,            -- CalculationResult.to_dict() (JSON), when done
    error      TEXT,            -- one sentence, when failed
    timings    TEXT,            -- seconds per stage (JSON)
    attempts   INTEGER NOT NULL DEFAULT 0,
    worker     TEXT,
    created    REAL NOT NULL,
    updated    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calculations_status ON calculations (status);
"""


def default_store_path() -> Path:
    """``$MOLMTL_DFT_STORE`` or ``<cache dir>/dft.sqlite``."""
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else cache_dir() / "dft.sqlite"


def canonical_input(molecule: Molecule, method: str, settings: dict, versions: dict) -> dict:
    """The JSON-able input that defines a calculation (geometry in Angstrom, rounded to 1e-6)."""
    if molecule.positions is None:
        raise ValueError("a calculation needs a 3D geometry")
    pos = np.round(np.asarray(molecule.positions, float), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    return {
        "atomic_numbers": [int(z) for z in molecule.atomic_numbers],
        "positions_angstrom": pos.tolist(),
        "charge": int(molecule.charge),
        "multiplicity": int(molecule.multiplicity),
        "method": method,
        "settings": settings,
        "versions": versions,
    }


def input_key(canonical: dict) -> str:
    """SHA-256 (first 16 hex digits) of the canonical input's sorted JSON."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Record:
    """One row of the store."""

    key: str
    status: str
    name: str | None
    formula: str | None
    smiles: str | None
    method: str
    input: dict
    result: dict | None
    error: str | None
    timings: dict | None
    attempts: int
    created: float
    updated: float


class ResultStore:
    """SQLite store of DFT/xTB calculations. Safe for several processes (WAL, busy timeout).

    Args:
        path: the SQLite file (created with its folder if missing).
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = self._connect()
            try:
                con.executescript(_SCHEMA)
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:  # not a database, a folder, unreadable: one sentence, not a traceback
            raise InputError(f"{self.path} is not a usable molmtl results store (SQLite): {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)  # autocommit; explicit BEGIN below
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # a committed result survives power loss, not only a killed process
        return con

    def _write(self, sql: str, params: tuple) -> None:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(sql, params)
            con.execute("COMMIT")
        finally:
            con.close()

    # ------------------------------------------------------------------ writes
    def start(self, key: str, molecule: Molecule, canonical: dict) -> None:
        """Mark ``key`` running (insert, or count one more attempt)."""
        now = time.time()
        self._write(
            "INSERT INTO calculations (key, status, name, formula, smiles, method, input, attempts, worker, created, updated) "
            "VALUES (?, 'running', ?, ?, ?, ?, ?, 1, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET status='running', error=NULL, attempts=attempts+1, worker=excluded.worker, "
            "updated=excluded.updated",
            (key, molecule.name, molecule.formula, molecule.smiles, canonical["method"], json.dumps(canonical),
             f"{socket.gethostname()}:{os.getpid()}", now, now),
        )

    def finish(self, key: str, result: dict) -> None:
        """Store a finished result (one transaction)."""
        self._write("UPDATE calculations SET status='done', result=?, timings=?, error=NULL, updated=? WHERE key=?",
                    (json.dumps(result), json.dumps(result.get("timings_s")), time.time(), key))

    def fail(self, key: str, reason: str) -> None:
        """Record a failure with its one-sentence reason."""
        self._write("UPDATE calculations SET status='failed', error=?, updated=? WHERE key=?", (reason, time.time(), key))

    def fail_input(self, key: str, name: str, method: str, canonical: dict, reason: str) -> None:
        """Record a ``failed`` row for input that never became a molecule (e.g. an unparsable SMILES)."""
        now = time.time()
        self._write(
            "INSERT INTO calculations (key, status, name, method, input, error, attempts, created, updated) "
            "VALUES (?, 'failed', ?, ?, ?, ?, 1, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET status='failed', error=excluded.error, attempts=attempts+1, updated=excluded.updated",
            (key, name, method, json.dumps(canonical), reason, now, now),
        )

    # ------------------------------------------------------------------ reads
    def get(self, key: str) -> Record | None:
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM calculations WHERE key=?", (key,)).fetchone()
            cols = [d[0] for d in con.execute("SELECT * FROM calculations LIMIT 0").description]
        finally:
            con.close()
        return None if row is None else _record(dict(zip(cols, row)))

    def find(self, key_prefix: str) -> Record:
        """The record whose key starts with ``key_prefix`` (NotFoundError if none or ambiguous)."""
        keys = []
        if key_prefix:  # an exact prefix: LIKE would read '_' and '%' as wildcards
            con = self._connect()
            try:
                keys = [r[0] for r in con.execute("SELECT key FROM calculations WHERE substr(key, 1, ?) = ? LIMIT 3",
                                                  (len(key_prefix), key_prefix))]
            finally:
                con.close()
        if not keys:
            raise NotFoundError(f"no calculation with key {key_prefix!r} in {self.path}")
        if len(keys) > 1:
            raise NotFoundError(f"key {key_prefix!r} is ambiguous in {self.path}; give more characters")
        return self.get(keys[0])

    def records(self, status: str | None = None) -> list[Record]:
        con = self._connect()
        try:
            cur = con.execute("SELECT * FROM calculations" + (" WHERE status=?" if status else "") + " ORDER BY created",
                              (status,) if status else ())
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            con.close()
        return [_record(dict(zip(cols, r))) for r in rows]

    def counts(self) -> dict[str, int]:
        con = self._connect()
        try:
            got = dict(con.execute("SELECT status, COUNT(*) FROM calculations GROUP BY status").fetchall())
        finally:
            con.close()
        return {s: int(got.get(s, 0)) for s in STATUSES}


def _record(row: dict) -> Record:
    for col in ("input", "result", "timings"):
        row[col] = json.loads(row[col]) if row[col] else None
    row.pop("worker", None)
    return Record(**row)
