"""Test-split MAE per target of model files, with and without the relations of molmtl.physics.

    python benchmarks/physics_outputs.py --model OLD.pt --model NEW.pt [--geometry rdkit] [--limit N]

For each model: its heads' raw outputs ("heads") and the outputs ``molmtl predict`` gives
("physics": computed rotational constants, consistent energies), on the test part of the model's
split; plus, for every prediction, the largest violation of H - U = kT and of
X - X_atom = the atom-reference sum. Writes a Markdown table to stdout (and --out as JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from molmtl import physics
from molmtl.inference import encoder_class, load_model, predict_dataset
from molmtl.targets import get_target
from molmtl.training.data import load_training_data


def test_predictions(path: Path, geometry: str | None, limit: int | None, relations: bool):
    model = load_model(path)
    model.relations = relations
    config = model.config if geometry is None else model.config.replace(geometry=geometry)
    enc = encoder_class(config)
    data = load_training_data(config, graph=enc.needs_graph, geometry=enc.needs_geometry)
    test = data.test if limit is None else Subset(data.test, range(min(limit, len(data.test))))
    y, p = predict_dataset(model, test)
    z = [np.asarray(test[i]["z"]) for i in range(len(test))]
    return model.keys, y, p, z


def violations(keys, p, z) -> dict[str, float]:
    col = {k: i for i, k in enumerate(keys)}
    width = max(len(a) for a in z)
    padded = np.zeros((len(z), width), dtype=np.int64)
    for i, a in enumerate(z):
        padded[i, :len(a)] = a
    refs = physics.reference_sums_ev(padded)
    out = {}
    if {"H", "U"} <= col.keys():
        out["max |H - U - kT| (meV)"] = float(np.max(np.abs(p[:, col["H"]] - p[:, col["U"]] - physics.KT_EV)) * 1000)
    gaps = [np.abs(p[:, col[q]] - p[:, col[f"{q}_atom"]] - refs[q]) for q in ("U0", "U", "H", "G")
            if q in col and f"{q}_atom" in col]
    if gaps:
        out["max |X - X_atom - refs| (meV)"] = float(np.max(gaps) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, type=Path)
    ap.add_argument("--geometry", choices=("qm9", "rdkit"), default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    columns, table, checks = [], {}, {}
    for path in args.model:
        for relations in (False, True):
            name = f"{path.name} {'physics' if relations else 'heads'}"
            keys, y, p, z = test_predictions(path, args.geometry, args.limit, relations)
            columns.append(name)
            for i, k in enumerate(keys):
                t = get_target(k)
                ok = np.isfinite(y[:, i])
                table.setdefault(k, {})[name] = float(np.mean(np.abs(p[ok, i] - y[ok, i])) * t.display_scale)
            checks[name] = violations(keys, p, z)
            logging.info("%s: done", name)
    print("| target | unit | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for k, row in table.items():
        print(f"| {k} | {get_target(k).display_unit} | " + " | ".join(f"{row[c]:.4g}" for c in columns) + " |")
    for name, c in checks.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.3g}" for k, v in c.items()))
    if args.out:
        args.out.write_text(json.dumps({"mae": table, "violations": checks, "geometry": args.geometry}, indent=2))


if __name__ == "__main__":
    main()
