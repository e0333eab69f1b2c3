"""Uncertainty of the shipped models: every method calibrated on the validation part, reported
on the test part, side by side (docs/uncertainty.md).

For each model the predictions and embeddings of the reference set (20,000 training molecules),
the validation and the test part are made once and cached in molmtl's cache folder, keyed by
the model's weights (``molmtl.uncertainty.data``): a rerun on the same model files only refits
(seconds); replaced model files are predicted again (about 10 minutes each on 2 CPU cores).
The SMILES model needs ``qm9-rdkit-v1.npz`` (``molmtl data prepare --rdkit-geometries``) and is
skipped, with a line saying so, without it.

    python benchmarks/uncertainty.py                      # both models, every method
    python benchmarks/uncertainty.py --models b3lyp --limit 500   # a quick look

Writes ``benchmarks/results/uncertainty/``: ``summary.md`` / ``summary.json`` (the six
properties with targets, every method, both models), and per model and method the full
19-property table, its JSON and a calibration plot (``MODEL/METHOD.{md,json,png}``); and, as
a shift the calibration was not made for, the B3LYP-geometry model given the RDKit geometries
a SMILES gets (``b3lyp-on-rdkit/``, with the domain verdicts' counts).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from molmtl.data.cache import atomic_path, cache_dir
from molmtl.data.rdkit_qm9 import CACHE_NAME
from molmtl.inference import load_model
from molmtl.methods.ml import SHIPPED_MODEL, SHIPPED_SMILES_MODEL
from molmtl.uncertainty.calibrate import DEFAULT_METHOD, fit_calibration
from molmtl.uncertainty.calibration import METHOD_FEATURES
from molmtl.uncertainty.data import split_outputs
from molmtl.uncertainty.domain import latent_verdict
from molmtl.uncertainty.report import FOCUS, markdown, target_misses, write_report

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"b3lyp": (SHIPPED_MODEL, "qm9"), "smiles": (SHIPPED_SMILES_MODEL, "rdkit")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="b3lyp,smiles", help="comma-separated: b3lyp, smiles")
    p.add_argument("--methods", default=",".join(METHOD_FEATURES), help="comma-separated uncertainty methods")
    p.add_argument("--limit", type=int, default=None, help="only the first N validation and test molecules")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "uncertainty")
    p.add_argument("--cache", type=Path, default=cache_dir() / "uncertainty", help="predictions cache folder")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)  # on 2 shared cores a second OpenMP thread slows small matmuls many times over
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    summary: dict = {"limit": args.limit, "default_method": DEFAULT_METHOD, "models": {}}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        path, geometry = MODELS[name]
        if geometry == "rdkit" and not (cache_dir() / CACHE_NAME).is_file():
            print(f"skipping the {name} model: no {cache_dir() / CACHE_NAME} (molmtl data prepare --rdkit-geometries)")
            continue
        model = load_model(path)
        t0 = time.perf_counter()
        outputs = split_outputs(model, geometry=geometry, limit=args.limit, cache=args.cache)
        predict_s = time.perf_counter() - t0
        entry = {"model": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                 "geometry": geometry, "predict_seconds": predict_s,
                 "n": {k: len(v.emb) for k, v in outputs.items()}, "methods": {}}
        # the B3LYP-geometry model given RDKit geometries (what a SMILES gets): sigma under a shift
        shifted = None
        if geometry == "qm9" and (cache_dir() / CACHE_NAME).is_file():
            shifted = split_outputs(model, geometry="rdkit", parts=("test",), limit=args.limit, cache=args.cache)["test"]
            shift_entry = {**entry, "geometry": "rdkit (calibrated on qm9)", "methods": {},
                           "n": {**entry["n"], "test": len(shifted.emb)}}
        for method in methods:
            t0 = time.perf_counter()
            cal = fit_calibration(outputs, model.targets, method=method)
            fit_s = time.perf_counter() - t0
            cal.info["geometry"] = geometry
            report = write_report(args.out / name, cal, outputs["test"], model.targets, stem=method)
            stored = sum(v.numel() * v.element_size() for v in _tensors(cal.to_dict()))
            entry["methods"][method] = {"fit_seconds": fit_s, "stored_bytes": stored, "targets": report["targets"],
                                        "verdicts": verdict_errors(cal, outputs["test"], model.targets)}
            print(f"{name} {method}: fitted in {fit_s:.1f} s, {stored / 1e6:.2f} MB stored")
            print(markdown(report))
            if shifted is not None:
                cal.info["geometry"] = "rdkit (calibrated on qm9)"
                report = write_report(args.out / f"{name}-on-rdkit", cal, shifted, model.targets, stem=method)
                shift_entry["methods"][method] = {"fit_seconds": fit_s, "stored_bytes": stored,
                                                  "targets": report["targets"],
                                                  "verdicts": verdict_errors(cal, shifted, model.targets)}
        summary["models"][name] = entry
        if shifted is not None:
            summary["models"][f"{name}-on-rdkit"] = shift_entry
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    with atomic_path(args.out / "summary.md") as tmp:
        tmp.write_text(summary_markdown(summary, " ".join(["python", "benchmarks/uncertainty.py", *sys.argv[1:]])))
    print(f"written to {args.out}")


def verdict_errors(cal, part, targets, keys=("U0", "homo", "mu")) -> dict:
    """Per latent verdict (in, near, outside): how many test molecules got it and their MAE of
    ``keys`` (display units)."""
    verdicts = np.array([latent_verdict(d, s, cal)[0] for d, s in
                         zip(cal.distance(part.emb), cal.sigma(part.preds, part.emb))])
    cols = {t.key: (j, t) for j, t in enumerate(targets)}
    out = {}
    for v in ("in", "near", "outside"):
        rows = verdicts == v
        out[v] = {"n": int(rows.sum()), **{f"mae_{k}": float(cols[k][1].to_display(np.abs(part.residuals[rows, cols[k][0]]).mean()))
                                          if rows.any() else None for k in keys if k in cols}}
    return out


def _tensors(d):
    for v in d.values():
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, dict):
            yield from _tensors(v)


def summary_markdown(summary: dict, command: str) -> str:
    """One table per model: the properties with targets, every method side by side."""
    lines = [f"Uncertainty of the shipped models on the test part (`{command}`); calibrated on the validation part.",
             "Per cell: 90% coverage [%] / Spearman rho(|error|, sigma) / MAE of the 10% largest sigmas over the "
             "other 90%; ! marks a missed target (coverage 87-93%, rho >= 0.3, ratio >= 2.5).", ""]
    for name, entry in summary["models"].items():
        methods = list(entry["methods"])
        lines += [f"### {name} model ({entry['geometry']} geometries; {entry['n']['test']} test, {entry['n']['val']} "
                  f"validation, {entry['n']['reference']} reference molecules)", "",
                  "| property | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        keys = [r["key"] for r in entry["methods"][methods[0]]["targets"]]
        for key in keys:
            cells = []
            for m in methods:
                r = next(r for r in entry["methods"][m]["targets"] if r["key"] == key)
                cells.append(f"{100 * r['coverage']['0.9']:.1f} / {r['spearman']:.2f} / {r['ratio']:.2f}"
                             + (" !" if target_misses(r) else ""))
            lines.append(f"| {key}{' *' if key in FOCUS else ''} | " + " | ".join(cells) + " |")
        lines += ["", "| latent verdict of the test molecules | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for v in ("in", "near", "outside"):
            cells = []
            for m in methods:
                c = entry["methods"][m]["verdicts"][v]
                maes = ", ".join(f"{k[4:]} {c[k]:.3g}" for k in c if k.startswith("mae_") and c[k] is not None)
                cells.append(f"{c['n']} ({maes})" if maes else str(c["n"]))
            lines.append(f"| {v} (n, MAE in meV / D) | " + " | ".join(cells) + " |")
        lines += ["", "| method | fit [s] | stored [MB] | targets met (of 18, * rows) |", "|---|---|---|---|"]
        for m in methods:
            rows = [r for r in entry["methods"][m]["targets"] if r["key"] in FOCUS]
            met = sum(3 - len(target_misses(r)) for r in rows)
            lines.append(f"| {m} | {entry['methods'][m]['fit_seconds']:.1f} | "
                         f"{entry['methods'][m]['stored_bytes'] / 1e6:.2f} | {met} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
