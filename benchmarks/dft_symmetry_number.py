"""Which rotational symmetry number did QM9 use for G?  G(sigma) = G(1) + RT ln(sigma), so QM9's own
frequencies and labels give sigma_QM9 = exp((G_QM9 - G(1)) / RT); compare with point groups found by
PySCF's symmetry detection at several tolerances.  Usage: python benchmarks/dft_symmetry_number.py [N first molecules]
"""

from __future__ import annotations

import collections
import sys

import numpy as np

from molmtl import units
from molmtl.data.qm9 import load_qm9
from molmtl.dft import properties as P
from molmtl.dft.thermo import T_QM9_K, thermochemistry
from molmtl.dft.vibrations import symmetry_number

TOLERANCES = (1e-3, 1e-4, 1e-5, 3e-6, 1e-6, 3e-7, 0.0)
KT_HARTREE = T_QM9_K * 3.166811563e-6


def main(n: int = 300) -> None:
    ds = load_qm9()
    agree = collections.Counter()
    misses = collections.defaultdict(list)
    inferred = collections.Counter()
    ids = [int(i) for i in ds.qm9_index[:n]]
    for i in ids:
        row = ds.position_of_index(i)
        mol, raw, ex = ds.molecule(row), ds.raw_record(row), ds.extras(row)
        z, r = mol.atomic_numbers, mol.positions_bohr
        mass = sum(units.MAIN_ISOTOPE_MASS[int(a)] for a in z)
        g1 = thermochemistry(raw["U0"] - raw["zpve"], ex["frequencies_cm1"], P.rotational_constants_ghz(z, r), mass)["G"]
        sigma_qm9 = float(np.exp((raw["G"] - g1) / KT_HARTREE))
        inferred[round(sigma_qm9, 1)] += 1
        for tol in TOLERANCES:
            ok = symmetry_number(z, r, tol) == round(sigma_qm9)
            agree[tol] += int(ok)
            if not ok:
                misses[tol].append(f"{i} (sigma_QM9 {sigma_qm9:.2f}, {len(ex['frequencies_cm1'])} frequencies)")
    print(f"first {n} QM9 molecules (ids {ids[0]}..{ids[-1]}): inferred sigma_QM9 (rounded to 0.1) -> count: {dict(sorted(inferred.items()))}")
    for tol in TOLERANCES:
        print(f"tolerance {tol:g} bohr: symmetry number agrees with QM9's for {agree[tol]} of {n}; "
              f"differs for ids {', '.join(misses[tol][:12])}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
