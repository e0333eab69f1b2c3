"""The methods benchmark: each method's error against QM9's labels and its wall time per molecule.

A fixed, seeded sample of the standard split's test part (``numpy.random.RandomState(SEED)``):

* the network (``ml``) on QM9's geometries (the shipped B3LYP-geometry model) and from SMILES
  (RDKit ETKDG + MMFF, the shipped SMILES model; the embedding's time counted);
* GFN2-xTB (optimized, finite-difference Hessian), raw, and with a linear correction of its
  orbital energies fitted on training-split molecules (labelled so: another level of theory);
* DFT at QM9's level on CPU, on molecules from small to large: QM9's geometry, no optimization,
  the Hessian for the small ones only (its cost grows as the basis size to the ~3.3);

MAE per property per method, median and 90th-percentile wall time per molecule. xTB and DFT go
through the results store and the Dask fan-out (``molmtl.fanout``): a rerun computes only what
is missing. The summary is written to ``--typical`` (shipped as ``molmtl/methods/typical.json``:
``molmtl compare`` shows each method's typical error and estimates xTB and DFT times from its
stage timings) and as Markdown.

    python benchmarks/methods.py --n-ml 200 --n-xtb 200 --n-xtb-fit 50 --n-dft 10 --workers 2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

from molmtl.config import TrainConfig
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9
from molmtl.dft.fanout import BatchItem, run_batch
from molmtl.dft.jobs import XTBJob, job_key
from molmtl.dft.protocol import QM9Protocol
from molmtl.dft.result import CalculationResult
from molmtl.dft.store import ResultStore
from molmtl.fanout import close_client, make_client
from molmtl.methods.ml import SHIPPED_MODEL, SHIPPED_SMILES_MODEL, MLMethod
from molmtl.targets import TARGET_KEYS, get_target

log = logging.getLogger("methods-benchmark")
ROOT = Path(__file__).resolve().parents[1]
SEED = 0
#: xTB's properties that are comparable with QM9's (its total energies have another zero).
XTB_KEYS = ("mu", "homo", "lumo", "gap", "zpve", "cv", "A", "B", "C")
#: Linear corrections fitted for xTB (orbital energies: another level of theory).
XTB_FIT_KEYS = ("homo", "lumo", "gap")
#: DFT's Hessian only up to this many atoms on a CPU (an 8-atom Hessian takes minutes on 2 cores).
DFT_HESSIAN_MAX_ATOMS = 8


def _quantiles(seconds: list[float]) -> dict:
    xs = sorted(seconds)
    return {"median_s": statistics.median(xs), "p90_s": xs[min(len(xs) - 1, int(0.9 * len(xs)))], "n": len(xs)}


def _mae(pred: dict[str, list[float]], ref: dict[str, list[float]]) -> dict[str, float]:
    out = {}
    for k in pred:
        a, b = np.asarray(pred[k], float), np.asarray(ref[k], float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.any():
            out[k] = float(np.abs(a[ok] - b[ok]).mean())
    return out


def run_ml(qm9, rows: np.ndarray) -> dict:
    """The network from QM9's geometries and from SMILES: predictions, labels, per-molecule seconds."""
    out = {}
    for name, model, from_smiles in (("ml", SHIPPED_MODEL, False), ("ml-smiles", SHIPPED_SMILES_MODEL, True)):
        method = MLMethod(str(model), lookup=False, qm9=qm9)
        preds = {k: [] for k in TARGET_KEYS}
        refs = {k: [] for k in TARGET_KEYS}
        seconds, skipped = [], 0
        method.run(qm9.molecule(int(rows[0])))  # the model loads once, as in a server; not timed
        for r in rows:
            t0 = time.perf_counter()
            try:
                mol = read_molecule(qm9.canonical_smiles[r], dataset=qm9) if from_smiles else qm9.molecule(int(r))
                res = method.run(mol)
            except Exception as exc:  # noqa: BLE001 - an unembeddable SMILES: counted, not timed
                skipped += 1
                log.info("%s: QM9 %d skipped: %s", name, qm9.qm9_index[r], exc)
                continue
            seconds.append(time.perf_counter() - t0)
            for k in TARGET_KEYS:
                preds[k].append(res.properties[k])
                refs[k].append(float(qm9.targets[r, TARGET_KEYS.index(k)]))
        out[name] = {"mae": _mae(preds, refs), **_quantiles(seconds), "skipped": skipped,
                     "geometry": "RDKit ETKDG + MMFF (timed)" if from_smiles else "QM9 (B3LYP)", "model": model.name}
        log.info("%s: %d molecules, median %.3f s", name, len(seconds), out[name]["median_s"])
    return out


def _batch(qm9, rows, job, store, client) -> dict[int, tuple[CalculationResult | None, float]]:
    """``row -> (result, seconds)`` for ``job`` on QM9's geometries (through the store: resumable)."""
    items = [BatchItem(row=i, text=f"qm9:{qm9.qm9_index[r]}", name=f"qm9:{qm9.qm9_index[r]}", molecule=qm9.molecule(int(r)))
             for i, r in enumerate(rows)]
    done = [0]

    def progress(name, status):
        done[0] += 1
        log.info("%s %d/%d %s %s", job.method, done[0], len(items), name, status)

    run_batch(items, job, store, client=client, progress=progress)
    out = {}
    for item, r in zip(items, rows):
        rec = store.get(job_key(item.molecule, job)[0])
        if rec is not None and rec.status == "done":
            res = CalculationResult.from_dict(rec.result)
            out[int(r)] = (res, float(sum(res.timings_s.values())))
        else:
            out[int(r)] = (None, float("nan"))
    return out


def run_xtb(qm9, rows, fit_rows, store, client) -> tuple[dict, dict]:
    job = XTBJob(optimize=True, frequencies=True)
    results = _batch(qm9, rows, job, store, client)
    fits = _batch(qm9, fit_rows, job, store, client)

    def table(res):
        pred = {k: [] for k in XTB_KEYS}
        ref = {k: [] for k in XTB_KEYS}
        for r, (calc, _) in res.items():
            if calc is None:
                continue
            for k in XTB_KEYS:
                pred[k].append(calc.properties.get(k, float("nan")))
                ref[k].append(float(qm9.targets[r, TARGET_KEYS.index(k)]))
        return pred, ref

    pred, ref = table(results)
    fpred, fref = table(fits)
    linear = {}
    for k in XTB_FIT_KEYS:  # QM9 ~ a * xTB + b on training molecules
        a, b = np.polyfit(np.asarray(fpred[k]), np.asarray(fref[k]), 1)
        linear[k] = [float(a), float(b)]
    corrected = {k: [linear[k][0] * v + linear[k][1] for v in pred[k]] for k in XTB_FIT_KEYS}
    seconds = [s for _, s in results.values() if np.isfinite(s)]
    summary = {"mae": _mae(pred, ref), "mae_linear": _mae(corrected, {k: ref[k] for k in XTB_FIT_KEYS}),
               "linear_fit": linear, "fit_molecules": len([c for c, _ in fits.values() if c is not None]),
               "failed": sum(c is None for c, _ in results.values()), **_quantiles(seconds),
               "settings": "optimized with GFN2-xTB from QM9's geometry, finite-difference Hessian"}
    timings = {stage: [] for stage in ("optimization", "singlepoint", "hessian")}
    for r, (calc, _) in {**results, **fits}.items():
        if calc is not None:
            n = int(qm9.n_atoms[r])
            for stage in timings:
                if stage in calc.timings_s:
                    timings[stage].append([n, round(float(calc.timings_s[stage]), 4)])
    return summary, timings


def dft_sample(qm9, test_rows: np.ndarray, n: int, max_atoms: int = 14) -> np.ndarray:
    """``n`` test molecules from small to large: round-robin over the atom counts the test part has
    up to ``max_atoms`` (its smallest molecules have 7), the first of each count in the seeded order."""
    by_size: dict[int, list[int]] = {}
    for r in test_rows:
        if int(qm9.n_atoms[r]) <= max_atoms:
            by_size.setdefault(int(qm9.n_atoms[r]), []).append(int(r))
    picked: list[int] = []
    depth = 0
    while len(picked) < n and any(len(v) > depth for v in by_size.values()):
        for size in sorted(by_size):
            if len(by_size[size]) > depth and len(picked) < n:
                picked.append(by_size[size][depth])
        depth += 1
    return np.asarray(sorted(picked, key=lambda r: int(qm9.n_atoms[r])), dtype=np.int64)


def run_dft(qm9, rows, store, client) -> tuple[dict, dict]:
    small = [r for r in rows if qm9.n_atoms[r] <= DFT_HESSIAN_MAX_ATOMS]
    large = [r for r in rows if qm9.n_atoms[r] > DFT_HESSIAN_MAX_ATOMS]
    with_hessian = QM9Protocol(optimize=False, thermo=True, device="cpu")
    without = QM9Protocol(optimize=False, thermo=False, device="cpu")
    results = {**_batch(qm9, small, with_hessian, store, client), **_batch(qm9, large, without, store, client)}
    pred = {k: [] for k in TARGET_KEYS}
    ref = {k: [] for k in TARGET_KEYS}
    timings = {"scf": [], "polarizability": [], "hessian": []}
    per_molecule = []
    for r, (calc, seconds) in results.items():
        if calc is None:
            continue
        nbf = int(with_hessian.build_mole(qm9.molecule(r).atomic_numbers, qm9.molecule(r).positions_bohr).nao)
        per_molecule.append({"qm9_index": int(qm9.qm9_index[r]), "n_atoms": int(qm9.n_atoms[r]), "basis_functions": nbf,
                             "seconds": seconds, "timings_s": calc.timings_s})
        for stage in timings:
            if stage in calc.timings_s:
                timings[stage].append([nbf, round(float(calc.timings_s[stage]), 3)])
        for k in TARGET_KEYS:
            pred[k].append(calc.properties.get(k, float("nan")))
            ref[k].append(float(qm9.targets[r, TARGET_KEYS.index(k)]))
    seconds = [m["seconds"] for m in per_molecule]
    summary = {"mae": _mae(pred, ref), **_quantiles(seconds), "molecules": per_molecule,
               "settings": f"QM9's geometry, no optimization; Hessian up to {DFT_HESSIAN_MAX_ATOMS} atoms; 2 CPU cores"}
    return summary, timings


def _markdown(summary: dict) -> str:
    keys = [k for k in TARGET_KEYS if any(k in m.get("mae", {}) for m in summary["methods"].values())]
    head = "| method | n | median [s] | p90 [s] | " + " | ".join(
        f"{k} [{get_target(k).display_unit}]" for k in keys) + " |"
    lines = [head, "|" + "---|" * (4 + len(keys))]
    for name, m in summary["methods"].items():
        if "mae" not in m:
            continue
        cells = []
        for k in keys:
            v = m["mae"].get(k)
            cells.append("-" if v is None else f"{get_target(k).to_display(v):.3g}")
        lines.append(f"| {name} | {m['n']} | {m['median_s']:.3g} | {m['p90_s']:.3g} | " + " | ".join(cells) + " |")
        if "mae_linear" in m:
            cells = [("-" if k not in m["mae_linear"] else f"{get_target(k).to_display(m['mae_linear'][k]):.3g}") for k in keys]
            lines.append(f"| {name} + linear fit ({m['fit_molecules']} training molecules) | {m['n']} | | | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-ml", type=int, default=200)
    p.add_argument("--n-xtb", type=int, default=200)
    p.add_argument("--n-xtb-fit", type=int, default=50)
    p.add_argument("--n-dft", type=int, default=10)
    p.add_argument("--workers", type=int, default=1, help="Dask worker processes for xTB and DFT (0: this process)")
    p.add_argument("--threads", type=int, default=1, help="OpenMP threads per worker")
    p.add_argument("--store", type=Path, default=ROOT / "benchmarks" / "results" / "methods" / "results.sqlite")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "methods")
    p.add_argument("--typical", type=Path, default=ROOT / "src" / "molmtl" / "methods" / "typical.json")
    p.add_argument("--skip", default="", help="comma-separated parts to leave out: ml, xtb, dft")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("distributed", "molmtl.dft", "molmtl.progress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    qm9 = load_qm9()
    split = TrainConfig().split_for(len(qm9), qm9.canonical_smiles)
    test = np.asarray(split.test)[np.random.RandomState(SEED).permutation(len(split.test))]
    train = np.asarray(split.train)[np.random.RandomState(SEED).permutation(len(split.train))]
    args.out.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.typical.read_text()) if args.typical.is_file() else {"methods": {}, "timings": {}}
    summary = {"date": str(date.today()), "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
               "command": "python benchmarks/methods.py " + " ".join(
                   f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k.startswith("n_") or k == "workers"),
               "sample": f"standard split's test part, numpy.random.RandomState({SEED}).permutation",
               "methods": dict(previous.get("methods", {})), "timings": dict(previous.get("timings", {}))}
    if "timings_note" in previous:  # what the kept timings were measured under
        summary["timings_note"] = previous["timings_note"]
    t_all = time.perf_counter()
    if "ml" not in skip:
        summary["methods"].update(run_ml(qm9, test[: args.n_ml]))
    store = ResultStore(args.store)
    client = make_client(None, n_workers=args.workers, threads_per_task=args.threads) if args.workers > 0 else None
    try:
        if "xtb" not in skip:
            summary["methods"]["xtb"], summary["timings"]["xtb"] = run_xtb(qm9, test[: args.n_xtb], train[: args.n_xtb_fit],
                                                                           store, client)
        if "dft" not in skip:
            rows = dft_sample(qm9, test, args.n_dft)
            dft, dft_timings = run_dft(qm9, rows, store, client)
            summary["methods"]["dft"] = dft
            summary["timings"]["dft-cpu"] = dft_timings
    finally:
        close_client(client)
    summary["methods"]["qm9"] = {"mae": {}, "median_s": 0.0, "p90_s": 0.0, "n": 0, "note": "the reference itself"}
    summary["wall_s"] = time.perf_counter() - t_all
    args.typical.write_text(json.dumps(summary, indent=1) + "\n")
    (args.out / "methods.md").write_text(f"# Methods benchmark ({summary['date']}, {summary['machine']})\n\n"
                                          f"`{summary['command']}`\n\n" + _markdown(summary))
    print(_markdown(summary))


if __name__ == "__main__":
    main()
