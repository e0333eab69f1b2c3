"""GFN2-xTB (tblite): a fast tier for pre-optimization and rough estimates.

GFN2-xTB is a different level of theory from QM9's B3LYP/6-31G(2df,p): its numbers are labelled
``GFN2-xTB`` everywhere and are estimates, not QM9-comparable labels. Reference: C. Bannwarth,
S. Ehlert, S. Grimme, J. Chem. Theory Comput. 15, 1652 (2019).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from molmtl import units
from molmtl.chem.molecule import Molecule
from molmtl.chem.validate import require_supported
from molmtl.dft import properties
from molmtl.dft.basis import build_mole
from molmtl.dft.optimize import optimize_geometry
from molmtl.dft.result import CalculationResult, as_float_list, raw_to_registry
from molmtl.dft.vibrations import thermochemistry_from_hessian, vibration_warnings
from molmtl.errors import CalculationError

log = logging.getLogger(__name__)

METHOD = "GFN2-xTB"


def _calculator(atomic_numbers, positions_bohr, charge: int = 0):
    from tblite.interface import (
        Calculator,  # lazy: tblite's import takes a second; DFT-only runs skip it
    )

    calc = Calculator(METHOD, np.asarray(atomic_numbers), np.asarray(positions_bohr, float), charge=float(charge))
    calc.set("verbosity", 0)
    return calc


def singlepoint(atomic_numbers, positions_bohr, charge: int = 0) -> dict:
    """GFN2-xTB energy (Hartree), gradient (Hartree/bohr), dipole (e bohr), orbital energies (Hartree)."""
    try:
        res = _calculator(atomic_numbers, positions_bohr, charge).singlepoint()
    except Exception as exc:  # tblite raises a bare RuntimeError on SCC failure
        raise CalculationError(f"GFN2-xTB failed: {exc}") from exc
    return {k: res.get(k) for k in ("energy", "gradient", "dipole", "orbital-energies", "orbital-occupations")}


def energy_gradient(mol) -> tuple[float, np.ndarray]:
    """``(energy, gradient)`` for a PySCF molecule's atoms and geometry (for :func:`.optimize.optimize_geometry`)."""
    r = singlepoint(mol.atom_charges(), mol.atom_coords(unit="Bohr"), mol.charge)
    return float(r["energy"]), np.asarray(r["gradient"])


def optimize(molecule: Molecule, *, max_steps: int = 200) -> Molecule:
    """GFN2-xTB-optimized copy of ``molecule`` (positions in Angstrom)."""
    require_supported(molecule, method=METHOD)
    mol = build_mole(molecule.atomic_numbers, molecule.positions_bohr, basis="sto-3g", convention="spherical")
    pos_bohr, _ = optimize_geometry(mol, energy_gradient, max_steps=max_steps)
    return molecule.with_positions(pos_bohr * units.BOHR_TO_ANGSTROM)


def hessian_fd(atomic_numbers, positions_bohr, *, step_bohr: float = 5e-3, charge: int = 0) -> np.ndarray:
    """Central finite-difference Hessian of the GFN2-xTB energy, ``(n, n, 3, 3)`` Hartree/bohr^2 (PySCF's layout)."""
    pos = np.asarray(positions_bohr, float)
    n = len(pos)
    calc = _calculator(atomic_numbers, pos, charge)
    hess = np.zeros((n, 3, n, 3))
    for a in range(n):
        for x in range(3):
            grads = []
            for sign in (+1, -1):
                p = pos.copy()
                p[a, x] += sign * step_bohr
                calc.update(positions=p)
                grads.append(np.asarray(calc.singlepoint().get("gradient")))
            hess[a, x] = (grads[0] - grads[1]) / (2 * step_bohr)
    hess = 0.5 * (hess + hess.transpose(2, 3, 0, 1))
    return hess.transpose(0, 2, 1, 3)


def run_xtb(molecule: Molecule, *, optimize_geometry: bool = True, frequencies: bool = True) -> CalculationResult:
    """Quick GFN2-xTB estimate: energy, dipole, HOMO/LUMO, rotational constants, and (optionally)
    harmonic thermochemistry from a finite-difference Hessian. Clearly not QM9's level of theory.
    """
    require_supported(molecule, method=METHOD)
    if molecule.positions is None:
        raise CalculationError("GFN2-xTB needs a 3D geometry")
    timings: dict[str, float] = {}
    if optimize_geometry:
        t0 = time.perf_counter()
        molecule = optimize(molecule)
        timings["optimization"] = time.perf_counter() - t0
    z, pos = molecule.atomic_numbers, molecule.positions_bohr
    t0 = time.perf_counter()
    sp = singlepoint(z, pos, molecule.charge)
    timings["singlepoint"] = time.perf_counter() - t0
    occ = np.asarray(sp["orbital-occupations"])
    eps = np.asarray(sp["orbital-energies"])
    homo_i = int(np.nonzero(occ > 1e-3)[0].max())
    raw = {"e_elec": float(sp["energy"]), "mu": float(np.linalg.norm(sp["dipole"]) * units.AU_TO_DEBYE),
           "homo": float(eps[homo_i]), "lumo": float(eps[homo_i + 1]) if homo_i + 1 < len(eps) else float("nan")}
    raw["gap"] = raw["lumo"] - raw["homo"]
    abc = properties.qm9_rotational_constants_ghz(z, pos)
    raw.update(A=float(abc[0]), B=float(abc[1]), C=float(abc[2]))
    freqs, n_imag, warnings = None, 0, []
    if frequencies:
        t0 = time.perf_counter()
        th, vib = thermochemistry_from_hessian(z, pos, hessian_fd(z, pos, charge=molecule.charge), raw["e_elec"],
                                               multiplicity=molecule.multiplicity)
        raw.update(th)
        freqs, n_imag = vib.frequencies_cm1, vib.n_imaginary
        warnings += vibration_warnings(vib)
        timings["hessian"] = time.perf_counter() - t0
    props = {k: v for k, v in raw_to_registry(raw, z).items() if not k.endswith("_atom")}  # QM9's atom refs are B3LYP's
    return CalculationResult(
        method=METHOD, raw=raw, properties=props, timings_s=timings, atomic_numbers=[int(a) for a in z],
        positions_angstrom=as_float_list(molecule.positions), frequencies_cm1=as_float_list(freqs) if freqs is not None else None,
        n_imaginary=n_imag, settings={"method": METHOD, "optimize": optimize_geometry, "frequencies": frequencies},
        warnings=["GFN2-xTB is a different level of theory from QM9 (B3LYP/6-31G(2df,p)); U0/U/H/G are xTB total "
                  "energies, not comparable with QM9's, and no atomization energies or polarizability are given"]
        + warnings + list(molecule.warnings),
    )
