"""Wall time per stage of the full QM9 protocol (optimization, SCF, properties, polarizability, Hessian).

Usage: OMP_NUM_THREADS=2 python benchmarks/dft_timing.py MOLECULE [--no-opt] [--no-thermo] [--no-polar] [--df-derivatives] [--device cpu|gpu]
MOLECULE is a SMILES (RDKit ETKDG+MMFF start geometry) or a QM9 id (qm9:N, QM9's geometry).
Appends one JSON line to benchmarks/results/dft_timing.jsonl.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

from molmtl.data.inputs import read_molecule
from molmtl.dft.protocol import QM9Protocol


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("molecule")
    ap.add_argument("--no-opt", action="store_true")
    ap.add_argument("--no-thermo", action="store_true")
    ap.add_argument("--no-polar", action="store_true")
    ap.add_argument("--df-derivatives", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="benchmarks/results/dft_timing.jsonl")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    mol = read_molecule(args.molecule, embed=True)
    proto = QM9Protocol(optimize=not args.no_opt, thermo=not args.no_thermo, polarizability=not args.no_polar,
                        df_derivatives=args.df_derivatives, device=args.device)
    t0 = time.perf_counter()
    res = proto.run(mol)
    rec = {"molecule": args.molecule, "formula": mol.formula, "n_atoms": mol.n_atoms, "device": res.device,
           "optimize": proto.optimize, "thermo": proto.thermo, "df_derivatives": proto.df_derivatives, "timings_s": res.timings_s,
           "wall_s": time.perf_counter() - t0, "omp_threads": os.environ.get("OMP_NUM_THREADS", "default"),
           "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
           "load_avg_1min_at_end": os.getloadavg()[0], "n_imaginary": res.n_imaginary}
    with Path(args.out).open("a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec, indent=2))
    print(res.table())


if __name__ == "__main__":
    main()
