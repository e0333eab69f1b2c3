"""QM9 with RDKit geometries in place of its B3LYP ones, for models that will be given SMILES.

A user's SMILES reaches a 3D model as an ETKDG + MMFF geometry, and a model trained on QM9's
B3LYP geometries errs far more on those (BENCHMARKS.md, "Predictions from SMILES": U0 232 against
9.8 meV). ``molmtl train --geometry rdkit`` trains on the geometries users' SMILES will get:
each QM9 molecule's canonical SMILES embedded by :mod:`molmtl.data.geometries` (the same recipe
and store as ``predict``), with QM9's labels.

The geometries are kept as one cache file, ``qm9-rdkit-v1.npz`` beside ``qm9-v1.npz``, so that
training reads them without RDKit (the GPU machines have none). Molecules RDKit cannot embed
(about 0.5 %), or whose SMILES gives another formula than QM9's atoms, have no geometry there
and are left out of training and evaluation.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from molmtl.data.cache import atomic_path, cache_dir
from molmtl.data.geometries import embed_smiles, embedding_recipe
from molmtl.data.qm9 import QM9, load_qm9
from molmtl.errors import InputError, NotFoundError

log = logging.getLogger(__name__)

CACHE_NAME = "qm9-rdkit-v1.npz"


def prepare_rdkit_geometries(folder: str | Path | None = None, *, qm9: QM9 | None = None,
                             rows=None, force: bool = False, workers: int = 1) -> Path:
    """Embed QM9's canonical SMILES (through the geometry store) and write ``qm9-rdkit-v1.npz``.

    Args:
        folder: the cache directory (default: molmtl's).
        qm9: QM9 (default: loaded from ``folder``).
        rows: embed only these QM9 rows (the others get no geometry; for tests and quick runs).
            (default: all: about 50 core-minutes when the store is empty)
        force: rewrite an existing file.
        workers: processes that embed (see :func:`molmtl.data.geometries.embed_smiles`).
    """
    out = cache_dir(folder) / CACHE_NAME
    if out.is_file() and not force:
        log.info("RDKit geometries already at %s", out)
        return out
    qm9 = qm9 if qm9 is not None else load_qm9(folder)
    chosen = np.arange(len(qm9)) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    made = embed_smiles([qm9.canonical_smiles[r] for r in chosen], [str(qm9.qm9_index[r]) for r in chosen],
                        workers=workers)
    counts = np.zeros(len(qm9), dtype=np.int64)
    z_parts, pos_parts, mismatched = {}, {}, 0
    for r, mol in zip(chosen.tolist(), made.molecules):
        if mol is None:
            continue
        own = qm9.z[qm9.offsets[r]:qm9.offsets[r + 1]]
        if not np.array_equal(np.sort(mol.atomic_numbers), np.sort(own)):
            mismatched += 1
            continue
        counts[r] = len(own)
        z_parts[r] = mol.atomic_numbers.astype(np.int8)
        pos_parts[r] = np.asarray(mol.positions, dtype=np.float32)
    order = sorted(z_parts)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    z = np.concatenate([z_parts[r] for r in order]) if order else np.zeros(0, np.int8)
    pos = np.concatenate([pos_parts[r] for r in order]) if order else np.zeros((0, 3), np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        np.savez_compressed(tmp, z=z, pos=pos, offsets=offsets, qm9_index=qm9.qm9_index, recipe=np.array(embedding_recipe()))
    failed = sum(e is not None for e in made.errors)
    log.info("wrote %s (%.1f MB): %d of %d molecules; %d RDKit could not embed, %d with another formula",
             out, out.stat().st_size / 1e6, len(order), len(chosen), failed, mismatched)
    return out


def with_rdkit_geometries(qm9: QM9, folder: str | Path | None = None, *, prepare: bool = True) -> tuple[QM9, np.ndarray]:
    """``(QM9 with RDKit geometries, has_geometry)``: the same molecules and labels, atoms and
    positions from ``qm9-rdkit-v1.npz`` (prepared first if missing and ``prepare``); a molecule
    without an RDKit geometry keeps QM9's atoms and is False in the ``(n,)`` mask."""
    path = cache_dir(folder) / CACHE_NAME
    if not path.is_file():
        if not prepare:
            raise NotFoundError(f"no RDKit geometries at {path}; run 'molmtl data prepare --rdkit-geometries'")
        try:
            import rdkit  # noqa: F401  # lazy: RDKit is optional; only embedding needs it
        except ImportError:
            raise NotFoundError(f"no RDKit geometries at {path}, and RDKit is not installed to make them; run "
                                "'molmtl data prepare --rdkit-geometries' where it is and copy the file") from None
        log.warning("RDKit geometries not found at %s; embedding QM9's SMILES (about 50 core-minutes, once)", path)
        prepare_rdkit_geometries(folder, qm9=qm9, workers=os.cpu_count() or 1)
    try:
        with np.load(path) as f:
            z, pos, offsets, index = f["z"].astype(np.int64), f["pos"], f["offsets"], f["qm9_index"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"the RDKit geometry cache {path} is unreadable ({exc}); run "
                         "'molmtl data prepare --rdkit-geometries --force'") from None
    if not np.array_equal(index, qm9.qm9_index):
        raise InputError(f"{path} was made for another QM9 cache; run 'molmtl data prepare --rdkit-geometries --force'")
    has = np.diff(offsets) > 0
    counts = np.where(has, np.diff(offsets), qm9.n_atoms)
    new_offsets = np.concatenate([[0], np.cumsum(counts)])
    new_z = np.empty(new_offsets[-1], dtype=qm9.z.dtype)
    new_pos = np.empty((new_offsets[-1], 3), dtype=qm9.pos.dtype)
    for r in range(len(qm9)):
        a, b = new_offsets[r], new_offsets[r + 1]
        src_z, src_pos, lo = (z, pos, offsets[r]) if has[r] else (qm9.z, qm9.pos, qm9.offsets[r])
        new_z[a:b] = src_z[lo:lo + (b - a)]
        new_pos[a:b] = src_pos[lo:lo + (b - a)]
    out = QM9(new_z, new_pos, new_offsets, qm9.raw, qm9.qm9_index, qm9.smiles, qm9.canonical_smiles, qm9.inchikey,
              qm9.path)
    return out, has


__all__ = ["CACHE_NAME", "prepare_rdkit_geometries", "with_rdkit_geometries"]
