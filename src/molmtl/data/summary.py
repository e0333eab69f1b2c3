"""Plain-text summaries of QM9 (used by ``molmtl data info`` and ``show``)."""

from __future__ import annotations

import numpy as np

from molmtl.data.qm9 import QM9, RAW_KEYS, RAW_UNITS
from molmtl.targets import TARGETS


def summarize(ds: QM9) -> dict:
    """Counts and per-target statistics in display units."""
    y = ds.targets
    per_target = {}
    for t in TARGETS:
        col = t.to_display(y[:, t.index])
        col = col[np.isfinite(col)]
        per_target[t.key] = {
            "unit": t.display_unit, "description": t.description,
            "mean": float(col.mean()), "std": float(col.std()), "min": float(col.min()), "max": float(col.max()),
        }
    n_atoms = ds.n_atoms
    return {
        "molecules": len(ds), "targets": len(TARGETS), "atoms_total": int(n_atoms.sum()),
        "atoms_per_molecule_max": int(n_atoms.max()), "cache": str(ds.path), "per_target": per_target,
    }


def summary_table(stats: dict) -> str:
    lines = [
        f"QM9: {stats['molecules']:,} molecules, {stats['targets']} targets, "
        f"{stats['atoms_total']:,} atoms (at most {stats['atoms_per_molecule_max']} per molecule)",
        f"cache: {stats['cache']}",
        "",
        f"{'target':<8} {'unit':<12} {'mean':>14} {'std':>12} {'min':>14} {'max':>14}  description",
    ]
    for key, s in stats["per_target"].items():
        lines.append(f"{key:<8} {s['unit']:<12} {s['mean']:>14.4f} {s['std']:>12.4f} {s['min']:>14.4f} {s['max']:>14.4f}  {s['description']}")
    return "\n".join(lines)


def record_table(ds: QM9, row: int, other_rows=()) -> str:
    mol = ds.molecule(row)
    rec, raw = ds.record(row), ds.raw_record(row)
    lines = [
        f"QM9 {mol.qm9_index}: {mol.formula}  SMILES {ds.canonical_smiles[row]}  InChIKey {ds.inchikey[row]}  ({mol.n_atoms} atoms)",
    ]
    if len(other_rows):
        lines.append("other QM9 entries with this identity: " + ", ".join(str(int(ds.qm9_index[r])) for r in other_rows))
    lines += ["", f"{'target':<8} {'value':>16} {'unit':<12} description"]
    for t in TARGETS:
        lines.append(f"{t.key:<8} {t.to_display(rec[t.key]):>16.6f} {t.display_unit:<12} {t.description}")
    lines += ["", "as QM9 prints it:", "  " + "  ".join(f"{k}={raw[k]:.6g} {RAW_UNITS[k]}" for k in RAW_KEYS)]
    return "\n".join(lines)
