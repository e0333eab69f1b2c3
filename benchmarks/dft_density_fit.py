"""What density fitting the derivative stages (``df_derivatives``) changes, against exact integrals.

Two comparisons per QM9 molecule, both on the CPU with the QM9 protocol's settings otherwise:

* Hessian: at QM9's geometry (no optimization), ZPVE, U0 and Cv from a density-fitted Hessian
  against exact integrals, in the same run, and against QM9's labels.
* Optimization: from QM9's geometry, a density-fitted optimization against an exact one: the
  largest atomic displacement between the two end geometries and the exact-SCF energy there.

Usage: OMP_NUM_THREADS=2 python benchmarks/dft_density_fit.py [--ids 1 2 ...] [--out FILE.jsonl] [--hessian-only]
Writes one JSON line per molecule (a killed run keeps what finished) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from molmtl.data.qm9 import load_qm9
from molmtl.dft.protocol import QM9Protocol
from molmtl.units import HARTREE_TO_EV

MEV = HARTREE_TO_EV * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", type=int, nargs="+", default=list(range(1, 7)))
    ap.add_argument("--out", default="benchmarks/results/dft_density_fit.jsonl")
    ap.add_argument("--hessian-only", action="store_true", help="skip the optimization comparison")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = Path(args.out)
    done = {json.loads(line)["qm9_index"] for line in out.read_text().splitlines()} if out.exists() else set()
    ds = load_qm9()
    for i in args.ids:
        if i in done:
            continue
        row = ds.position_of_index(i)
        mol, qm9 = ds.molecule(row), ds.raw_record(row)
        hess, exact = (QM9Protocol(optimize=False, polarizability=False, df_derivatives=fit, device="cpu").run(mol)
                       for fit in (True, False))
        rec = {
            "qm9_index": i, "formula": mol.formula, "n_atoms": mol.n_atoms,
            "hessian": {k: hess.raw[k] for k in ("zpve", "U0", "cv")},
            "exact": {k: exact.raw[k] for k in ("zpve", "U0", "cv")},
            "qm9": {k: qm9[k] for k in ("zpve", "U0", "cv")},
            "hessian_s": {"density_fit": hess.timings_s["hessian"], "exact": exact.timings_s["hessian"]},
        }
        if not args.hessian_only:
            rec.update(compare_optimizations(mol))
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        logging.info("%d %s done", i, mol.formula)
    print(table(out))


def compare_optimizations(mol) -> dict:
    """From the same start, an exact and a density-fitted optimization: end geometries and energies."""
    opt = {}
    for fit in (False, True):
        t0 = time.perf_counter()
        res = QM9Protocol(thermo=False, polarizability=False, df_derivatives=fit, device="cpu").run(mol)
        opt[fit] = (res, time.perf_counter() - t0)
    (ex, t_ex), (df, t_df) = opt[False], opt[True]
    shift = np.linalg.norm(np.subtract(df.positions_angstrom, ex.positions_angstrom), axis=1).max()
    return {
        "opt_e_elec": {"exact": ex.raw["e_elec"], "density_fit": df.raw["e_elec"]},
        "opt_max_shift_angstrom": float(shift),
        "opt_s": {"exact": ex.timings_s["optimization"], "density_fit": df.timings_s["optimization"]},
        "opt_wall_s": {"exact": t_ex, "density_fit": t_df},
    }


def table(path: Path) -> str:
    lines = ["| id | formula | ZPVE DF - exact (meV) | U0 DF - exact (meV) | Cv DF - exact (cal/mol/K) "
             "| ZPVE DF - QM9 (meV) | U0 DF - QM9 (meV) | Hessian s (DF / exact) "
             "| opt: max shift (Å) | opt: E DF - exact (nHa) | opt s (DF / exact) |", "|" + "---|" * 11]
    for r in map(json.loads, path.read_text().splitlines()):
        h, e, q = r["hessian"], r["exact"], r["qm9"]
        opt = "| - | - | - |"
        if "opt_e_elec" in r:
            de = (r["opt_e_elec"]["density_fit"] - r["opt_e_elec"]["exact"]) * 1e9
            opt = (f"| {r['opt_max_shift_angstrom']:.1e} | {de:+.2f} "
                   f"| {r['opt_s']['density_fit']:.0f} / {r['opt_s']['exact']:.0f} |")
        lines.append(
            f"| {r['qm9_index']} | {r['formula']} | {(h['zpve'] - e['zpve']) * MEV:+.3f} | {(h['U0'] - e['U0']) * MEV:+.3f} "
            f"| {h['cv'] - e['cv']:+.4f} | {(h['zpve'] - q['zpve']) * MEV:+.2f} | {(h['U0'] - q['U0']) * MEV:+.2f} "
            f"| {r['hessian_s']['density_fit']:.0f} / {r['hessian_s']['exact']:.0f} {opt}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
