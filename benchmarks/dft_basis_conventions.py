"""E_el - (U0 - ZPVE)_QM9 at QM9 geometries for four d/f conventions and two 2d-exponent choices.

Usage: OMP_NUM_THREADS=2 python benchmarks/dft_basis_conventions.py [--exponents bse|gaussian] ID ...
``bse``: PySCF's (Basis Set Exchange) 6-31g(2df,p), 2d = 6-311G-derived pair;
``gaussian``: Gaussian's 2d = (2 alpha_d, alpha_d / 2) from 6-31G* (molmtl's QM9 basis).
Prints one line per molecule: energy difference (mHa) and HOMO difference (mHa) per convention.
"""

from __future__ import annotations

import argparse

from pyscf import dft

from molmtl.data.qm9 import load_qm9
from molmtl.dft.basis import QM9_BASIS, ao_map, build_mole
from molmtl.dft.projected import ProjectedRKS

#: name -> None (spherical molecule), "cart" (all Cartesian), or the l values kept Cartesian.
VARIANTS = {"5D/7F": None, "6D/7F": (0, 1, 2), "6D/10F": "cart", "5D/10F": (0, 1, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ids", type=int, nargs="+")
    ap.add_argument("--exponents", choices=("bse", "gaussian"), default="bse")
    args = ap.parse_args()
    basis = "6-31g(2df,p)" if args.exponents == "bse" else QM9_BASIS
    ds = load_qm9()
    for i in args.ids:
        row = ds.position_of_index(i)
        m, raw = ds.molecule(row), ds.raw_record(row)
        ref = raw["U0"] - raw["zpve"]
        nocc = int(m.atomic_numbers.sum()) // 2
        out = []
        for name, v in VARIANTS.items():
            mol = build_mole(m.atomic_numbers, m.positions_bohr, basis=basis,
                             convention="spherical" if v is None else "cartesian")
            mf = dft.RKS(mol, xc="b3lypg") if v is None or v == "cart" else ProjectedRKS(mol, ao_map(mol, cartesian_l=v))
            mf.grids.atom_grid = (75, 302)
            mf.conv_tol = 1e-10
            e = mf.kernel()
            out.append(f"{name}: {1000 * (e - ref):+.3f} mHa homo {1000 * (mf.mo_energy[nocc - 1] - raw['homo']):+.2f}")
        print(i, m.formula, " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
