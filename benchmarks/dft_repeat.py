"""The QM9 protocol run N times on one molecule in one process: the first run pays GPU4PySCF's
kernel compilation (cold), later ones show the warm wall time per stage.

Usage::

    python benchmarks/dft_repeat.py benchmarks/data/qm9_89165.xyz sp 2     # single point, twice
    python benchmarks/dft_repeat.py benchmarks/data/qm9_89165.xyz full 2   # opt + SCF + polarizability + Hessian
    python benchmarks/dft_repeat.py benchmarks/data/qm9_89165.xyz full-df 2   # the same, --df-derivatives
    python benchmarks/dft_repeat.py benchmarks/data/qm9_89165.xyz hessian-df 1 cpu   # at the file's geometry:
                                              # exact SCF and properties, density-fitted Hessian

Reads the XYZ file with the element table alone (no RDKit: the GPU machine has none) and runs on
the GPU (``QM9Protocol(device="gpu")``). Prints one JSON line per run (wall time, per-stage times,
electronic energy in Hartree) and the property table. This is the driver that produced the GPU
figures in BENCHMARKS.md ("DFT on one H100").
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from molmtl.chem.elements import NUMBERS
from molmtl.chem.molecule import Molecule
from molmtl.dft.protocol import QM9Protocol


def read_xyz(path: str) -> Molecule:
    lines = open(path).read().split("\n")
    n = int(lines[0])
    body = lines[2 : 2 + n]
    z = np.array([NUMBERS[line.split()[0]] for line in body])
    pos = np.array([[float(t) for t in line.split()[1:4]] for line in body])
    return Molecule(z, pos, charge=0, multiplicity=1, name=path, source="xyz")


def main() -> None:
    path, mode, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    device = sys.argv[4] if len(sys.argv) > 4 else "gpu"
    mol = read_xyz(path)
    modes = {"sp": dict(optimize=False, thermo=False, polarizability=False), "full": {},
             "full-df": dict(df_derivatives=True),
             "hessian-df": dict(df_derivatives=True, optimize=False, polarizability=False)}
    if mode not in modes:
        sys.exit(f"mode {mode!r} is not one of {', '.join(modes)}")
    kw = modes[mode]
    for rep in range(repeats):
        t0 = time.perf_counter()
        res = QM9Protocol(device=device, **kw).run(mol)
        print(json.dumps({"mode": mode, "rep": rep, "wall_s": time.perf_counter() - t0, "timings_s": res.timings_s,
                          "e_elec": res.raw["e_elec"], "n_imag": res.n_imaginary, "device": res.device}))
        print(res.table())


if __name__ == "__main__":
    main()
