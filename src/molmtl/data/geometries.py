"""3D geometries for SMILES, embedded once (RDKit ETKDG + MMFF) and kept in a SQLite store.

A CSV run with a 3D encoder needs a geometry per molecule, and training, resuming, evaluating and
every lambda of a sweep would embed them all again (milliseconds to tens of milliseconds each).
:func:`embedded_molecules` embeds only the SMILES the store lacks, commits as it goes (an
interrupted run keeps what it finished) and logs its progress. Entries are keyed by the SMILES
as given, the embedding recipe (seed, fallback version) and the RDKit version, so another RDKit
embeds afresh. A SMILES that cannot be embedded (about 1 QM9 molecule in 200 even with
:mod:`molmtl.chem.embed`'s fallback; each failure costs seconds of attempts) is stored with its
reason and not tried again; a molecule's warnings (a fallback geometry) are stored with it.
:func:`embed_smiles` reports failures per molecule; :func:`embedded_molecules` raises the first.

The store is ``geometries.sqlite`` in molmtl's cache directory (WAL journal).
"""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtl.chem.embed import EMBED_SEED, ETKDG_MAX_ATTEMPTS, FALLBACK_VERSION
from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import from_smiles
from molmtl.data.cache import cache_dir
from molmtl.errors import InputError, MolmtlError

log = logging.getLogger(__name__)

#: Commit (and log progress) after this many new embeddings.
BATCH = 200

_SCHEMA = ("""CREATE TABLE IF NOT EXISTS geometry (
    key TEXT PRIMARY KEY, smiles TEXT NOT NULL, z BLOB NOT NULL, pos BLOB NOT NULL,
    charge INTEGER NOT NULL, multiplicity INTEGER NOT NULL)""",
           # kind: 'failure' (no geometry row; text = the reason) or 'warnings' (text = the Molecule's, one per line)
           "CREATE TABLE IF NOT EXISTS note (key TEXT PRIMARY KEY, kind TEXT NOT NULL, text TEXT NOT NULL)")


def embedding_recipe() -> str:
    import rdkit  # lazy: RDKit is optional (XYZ-only hosts)

    return (f"etkdg3+mmff attempts={ETKDG_MAX_ATTEMPTS} fallback={FALLBACK_VERSION} seed={EMBED_SEED} "
            f"rdkit={rdkit.__version__}")


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60)
    con.execute("PRAGMA journal_mode=WAL")
    for statement in _SCHEMA:
        con.execute(statement)
    return con


def _insert(con: sqlite3.Connection, rows: list, notes: list) -> None:
    if rows or notes:
        with con:
            con.executemany("INSERT OR REPLACE INTO geometry VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.executemany("INSERT OR REPLACE INTO note VALUES (?, ?, ?)", notes)
        rows.clear()
        notes.clear()


def _select(con: sqlite3.Connection, table: str, columns: str, keys: list[str]) -> dict[str, tuple]:
    found = {}
    for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
        chunk = keys[start:start + 500]
        rows = con.execute(f"SELECT key, {columns} FROM {table} WHERE key IN ({','.join('?' * len(chunk))})", chunk)
        found.update((r[0], r[1:]) for r in rows)
    return found


def _embed_one(smiles: str) -> tuple[Molecule | None, str | None]:
    """One SMILES embedded, or None and the reason (top level, so that worker processes can run it)."""
    try:
        return from_smiles(smiles, embed=True), None
    except MolmtlError as exc:
        return None, str(exc)


@contextmanager
def _embedder(workers: int, n: int) -> Iterator:
    """A ``map`` over SMILES giving :func:`_embed_one`'s results in order: this process's own for one
    worker (or few molecules), else a pool of ``workers`` fresh ("spawn") processes. Each embedding is
    seeded, so the geometries do not depend on the number of workers."""
    if workers <= 1 or n < 2 * BATCH:
        yield lambda items: map(_embed_one, items)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield lambda items: pool.map(_embed_one, items, chunksize=16)
    finally:  # Ctrl-C: drop what is queued rather than wait for it
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Embedded:
    """What :func:`embed_smiles` made of each SMILES: a Molecule, or None and the reason."""

    molecules: list[Molecule | None]
    errors: list[str | None]


def embed_smiles(smiles: Sequence[str], names: Sequence[str] | None = None, *,
                 store: str | Path | None = None, workers: int = 1) -> Embedded:
    """:func:`molmtl.chem.parse.from_smiles` with ``embed=True`` for each SMILES, through the store.

    Args:
        smiles: the SMILES strings.
        names: a label per molecule (default: the SMILES).
        store: the SQLite file (default: ``geometries.sqlite`` in molmtl's cache directory).
        workers: processes that embed (default 1: this one); the store is written by this
            process alone, and the geometries are the same for any number.

    Returns:
        per SMILES, in order, the Molecule with its 3D geometry (Angstrom), or None and the
        one-sentence reason it has none (a SMILES RDKit cannot read or embed).
    """
    molecules, errors = [], []
    for _, mol, error in iter_embedded(smiles, names, store=store, workers=workers):
        molecules.append(mol)
        errors.append(error)
    return Embedded(molecules, errors)


def iter_embedded(smiles: Sequence[str], names: Sequence[str] | None = None, *, store: str | Path | None = None,
                  workers: int = 1) -> Iterator[tuple[int, Molecule | None, str | None]]:
    """:func:`embed_smiles` one molecule at a time, in input order, as each is ready: ``(i,
    Molecule or None, reason or None)``. Stored geometries come at once; the others are embedded
    by ``workers`` processes running ahead of the caller (who can use the first molecules while
    the rest embed), stored as they come in (a Ctrl-C keeps what was made)."""
    names = list(smiles) if names is None else list(names)
    path = Path(store) if store is not None else cache_dir() / "geometries.sqlite"
    variant = embedding_recipe()
    keys = [f"{variant}\n{s.strip()}" for s in smiles]
    with closing(_connect(path)) as con:
        wanted = sorted(set(keys))
        found = _select(con, "geometry", "smiles, z, pos, charge, multiplicity", wanted)
        notes = _select(con, "note", "kind, text", wanted)
        missing, seen = [], set(found) | {k for k, (kind, _) in notes.items() if kind == "failure"}
        for i, k in enumerate(keys):
            if k not in seen:
                missing.append(i)
                seen.add(k)
        if missing:
            log.info("embedding %d of %d molecules in 3D (RDKit ETKDG + MMFF; stored in %s for next time)",
                     len(missing), len(keys), path)
        t0, pending, pending_notes = time.monotonic(), [], []
        first_of = {keys[i]: i for i in reversed(missing)}  # the row that embeds each new key
        try:
            with _embedder(workers, len(missing)) as embed_all:
                results = iter(embed_all([smiles[i] for i in missing]))
                done = 0
                for i, key in enumerate(keys):
                    if first_of.get(key) == i:  # this row's molecule is the next the workers give
                        mol, error = next(results)
                        done += 1
                        _record(key, mol, error, found, notes, pending, pending_notes)
                        if len(pending) + len(pending_notes) >= BATCH or done == len(missing):
                            _insert(con, pending, pending_notes)
                            rate = done / max(time.monotonic() - t0, 1e-9)
                            log.info("embedded %d/%d molecules (%.0f per second)", done, len(missing), rate)
                    yield (i, *_molecule(key, names[i], found, notes))
        finally:  # Ctrl-C, or a caller that stops early: what was embedded stays stored
            _insert(con, pending, pending_notes)


def _record(key, mol, error, found, notes, pending, pending_notes) -> None:
    if mol is None:
        notes[key] = ("failure", error)
        pending_notes.append((key, "failure", error))
        return
    row = (key, mol.smiles, mol.atomic_numbers.astype(np.int64).tobytes(),
           np.asarray(mol.positions, dtype=np.float64).tobytes(), int(mol.charge), int(mol.multiplicity))
    pending.append(row)
    found[key] = row[1:]
    if mol.warnings:
        notes[key] = ("warnings", "\n".join(mol.warnings))
        pending_notes.append((key, "warnings", notes[key][1]))


def _molecule(key: str, name: str, found: dict, notes: dict) -> tuple[Molecule | None, str | None]:
    kind, text = notes.get(key, (None, ""))
    if kind == "failure":
        return None, text
    canonical, z, pos, charge, mult = found[key]
    z = np.frombuffer(z, dtype=np.int64).copy()
    return Molecule(z, np.frombuffer(pos, dtype=np.float64).reshape(len(z), 3).copy(), smiles=canonical,
                    charge=charge, multiplicity=mult, name=name, source="smiles",
                    warnings=tuple(text.split("\n")) if kind == "warnings" else ()), None


def embedded_molecules(smiles: Sequence[str], names: Sequence[str] | None = None, *,
                       store: str | Path | None = None, workers: int = 1) -> list[Molecule]:
    """:func:`embed_smiles`, all or nothing: the Molecules, or InputError with the first reason."""
    result = embed_smiles(smiles, names, store=store, workers=workers)
    first = next((e for e in result.errors if e is not None), None)
    if first is not None:
        raise InputError(first)
    return result.molecules


__all__ = ["Embedded", "embed_smiles", "iter_embedded", "embedded_molecules", "embedding_recipe"]
