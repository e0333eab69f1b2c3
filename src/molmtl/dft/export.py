"""The results store as a table (CSV) or as its full records (JSON)."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from molmtl import units
from molmtl.data.cache import atomic_path
from molmtl.dft.store import ResultStore
from molmtl.targets import TARGET_KEYS, column_header, get_target

_ENERGY_FACTOR = {"meV": units.EV_TO_MEV, "eV": 1.0, "Hartree": 1.0 / units.HARTREE_TO_EV}


def export_records(store: ResultStore, path: str | Path, *, status: str | None = None, method: str | None = None,
                   energy_unit: str = "eV") -> int:
    """Write ``store``'s records (of ``status``, with ``method`` in their level of theory) to
    ``path`` (.csv or .json); returns how many."""
    records = [r for r in store.records(status) if method is None or method.lower() in (r.method or "").lower()]
    path = Path(path)
    if path.suffix.lower() == ".json":
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps([asdict(r) for r in records], indent=2, allow_nan=False, default=str))
        return len(records)
    factor = _ENERGY_FACTOR[energy_unit]
    head = ["key", "status", "name", "formula", "method", *(column_header(k, energy_unit if get_target(k).is_energy
                                                                         else get_target(k).unit) for k in TARGET_KEYS),
            "wall [s]", "error"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(head)
        for r in records:
            props = (r.result or {}).get("properties", {})
            cells = []
            for k in TARGET_KEYS:
                v = props.get(k)
                cells.append("" if v is None else f"{v * (factor if get_target(k).is_energy else 1.0):.10g}")
            wall = sum((r.result or {}).get("timings_s", {}).values()) if r.result else None
            w.writerow([r.key, r.status, r.name or "", r.formula or "", r.method or "", *cells,
                        "" if wall is None else f"{wall:.3f}", r.error or ""])
    return len(records)


__all__ = ["export_records"]
