"""3D geometries for SMILES, embedded once (RDKit ETKDG + MMFF) and kept in a SQLite store.

A CSV run with a 3D encoder needs a geometry per molecule, and training, resuming, evaluating and
every lambda of a sweep would embed them all again (milliseconds to tens of milliseconds each).
:func:`embedded_molecules` embeds only the SMILES the store lacks, commits as it goes (an
interrupted run keeps what it finished) and logs its progress. Entries are keyed by the SMILES
as given, the embedding seed and the RDKit version, so another RDKit embeds afresh.

The store is ``geometries.sqlite`` in molmtl's cache directory (WAL journal).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

from molmtl.chem.molecule import Molecule
from molmtl.data.cache import cache_dir

log = logging.getLogger(__name__)

#: Commit (and log progress) after this many new embeddings.
BATCH = 200

_SCHEMA = """CREATE TABLE IF NOT EXISTS geometry (
    key TEXT PRIMARY KEY, smiles TEXT NOT NULL, z BLOB NOT NULL, pos BLOB NOT NULL,
    charge INTEGER NOT NULL, multiplicity INTEGER NOT NULL)"""


def _variant() -> str:
    import rdkit

    from molmtl.chem.embed import EMBED_SEED

    return f"etkdg3+mmff seed={EMBED_SEED} rdkit={rdkit.__version__}"


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(_SCHEMA)
    return con


def _insert(con: sqlite3.Connection, rows: list) -> None:
    if rows:
        with con:
            con.executemany("INSERT OR REPLACE INTO geometry VALUES (?, ?, ?, ?, ?, ?)", rows)
        rows.clear()


def embedded_molecules(smiles: Sequence[str], names: Sequence[str] | None = None, *,
                       store: str | Path | None = None) -> list[Molecule]:
    """:func:`molmtl.chem.parse.from_smiles` with ``embed=True`` for each SMILES, through the store.

    Args:
        smiles: the SMILES strings (InputError, naming the first bad one, as ``from_smiles`` does).
        names: a label per molecule (default: the SMILES).
        store: the SQLite file (default: ``geometries.sqlite`` in molmtl's cache directory).

    Returns:
        one Molecule per SMILES, in order, with its 3D geometry (Angstrom).
    """
    from molmtl.chem.parse import from_smiles

    names = list(smiles) if names is None else list(names)
    path = Path(store) if store is not None else cache_dir() / "geometries.sqlite"
    variant = _variant()
    keys = [f"{variant}\n{s.strip()}" for s in smiles]
    found: dict[str, tuple] = {}
    with closing(_connect(path)) as con:
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start:start + 500]
            rows = con.execute(f"SELECT key, smiles, z, pos, charge, multiplicity FROM geometry WHERE key IN "
                               f"({','.join('?' * len(chunk))})", chunk)
            found.update((r[0], r[1:]) for r in rows)
        missing, seen = [], set(found)
        for i, k in enumerate(keys):
            if k not in seen:
                missing.append(i)
                seen.add(k)
        if missing:
            log.info("embedding %d of %d molecules in 3D (RDKit ETKDG + MMFF; stored in %s for next time)",
                     len(missing), len(keys), path)
        t0, pending = time.monotonic(), []
        try:
            for done, i in enumerate(missing, 1):
                mol = from_smiles(smiles[i], embed=True)
                row = (keys[i], mol.smiles, mol.atomic_numbers.astype(np.int64).tobytes(),
                       np.asarray(mol.positions, dtype=np.float64).tobytes(), int(mol.charge), int(mol.multiplicity))
                pending.append(row)
                found[keys[i]] = row[1:]
                if len(pending) >= BATCH or done == len(missing):
                    _insert(con, pending)
                    rate = done / max(time.monotonic() - t0, 1e-9)
                    log.info("embedded %d/%d molecules (%.0f per second)", done, len(missing), rate)
        finally:  # a bad SMILES or Ctrl-C: what was embedded stays stored
            _insert(con, pending)
    out = []
    for key, name in zip(keys, names):
        canonical, z, pos, charge, mult = found[key]
        z = np.frombuffer(z, dtype=np.int64).copy()
        out.append(Molecule(z, np.frombuffer(pos, dtype=np.float64).reshape(len(z), 3).copy(), smiles=canonical,
                            charge=charge, multiplicity=mult, name=name, source="smiles"))
    return out


__all__ = ["embedded_molecules"]
