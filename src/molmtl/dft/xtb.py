"""GFN2-xTB (tblite): a fast tier for pre-optimization and rough estimates.

GFN2-xTB is a different level of theory from QM9's B3LYP/6-31G(2df,p): its numbers are labelled
``GFN2-xTB`` everywhere and are estimates, not QM9-comparable labels. Reference: C. Bannwarth,
S. Ehlert, S. Grimme, J. Chem. Theory Comput. 15, 1652 (2019). GFN2-xTB is parametrized for
elements 1-86 (H to Rn); charged molecules and unpaired electrons are part of its input
(``charge`` and ``uhf``, the number of unpaired electrons = multiplicity - 1), so it is the fast
method for molecules the network cannot take.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from molmtl import units
from molmtl.chem.molecule import Molecule
from molmtl.chem.validate import require_supported
from molmtl.dft import properties
from molmtl.dft.basis import geometry_mole
from molmtl.dft.optimize import optimize_geometry
from molmtl.dft.result import CalculationResult, as_float_list, raw_to_registry
from molmtl.dft.vibrations import thermochemistry_from_hessian, vibration_warnings
from molmtl.errors import CalculationError

log = logging.getLogger(__name__)

METHOD = "GFN2-xTB"
#: The elements GFN2-xTB has parameters for (H to Rn).
XTB_ELEMENTS = frozenset(range(1, 87))
#: The most atoms ``xtb`` takes here: the finite-difference Hessian costs 6 N gradients.
XTB_MAX_ATOMS = 300


def _calculator(atomic_numbers, positions_bohr, charge: int = 0, uhf: int = 0):
    from tblite.interface import (
        Calculator,  # lazy: tblite's import takes a second; DFT-only runs skip it
    )

    calc = Calculator(METHOD, np.asarray(atomic_numbers), np.asarray(positions_bohr, float), charge=float(charge),
                      uhf=int(uhf))
    calc.set("verbosity", 0)
    return calc


def _point(calc) -> dict:
    try:
        res = calc.singlepoint()
    except Exception as exc:  # noqa: BLE001 - tblite raises a bare RuntimeError on SCC failure
        raise CalculationError(f"GFN2-xTB failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None
    return {k: res.get(k) for k in ("energy", "gradient", "dipole", "orbital-energies", "orbital-occupations")}


def singlepoint(atomic_numbers, positions_bohr, charge: int = 0, uhf: int = 0) -> dict:
    """GFN2-xTB energy (Hartree), gradient (Hartree/bohr), dipole (e bohr), orbital energies (Hartree)."""
    return _point(_calculator(atomic_numbers, positions_bohr, charge, uhf))


def require_xtb_domain(molecule: Molecule) -> None:
    """UnsupportedMoleculeError for an element GFN2-xTB has no parameters for (or an electron
    count that cannot have the molecule's multiplicity)."""
    require_supported(molecule, elements=XTB_ELEMENTS, allow_charged=True, allow_open_shell=True,
                      method=f"{METHOD} (parametrized for H to Rn)")


def optimize(molecule: Molecule, *, max_steps: int = 200,
             step: Callable[[int], None] | None = None) -> Molecule:
    """GFN2-xTB-optimized copy of ``molecule`` (positions in Angstrom); ``step(k)`` after each gradient."""
    require_xtb_domain(molecule)
    uhf = molecule.multiplicity - 1
    calc = _calculator(molecule.atomic_numbers, molecule.positions_bohr, molecule.charge, uhf)
    count = [0]

    def energy_gradient(mol) -> tuple[float, np.ndarray]:
        calc.update(positions=mol.atom_coords(unit="Bohr"))
        r = _point(calc)
        count[0] += 1
        if step:
            step(count[0])
        return float(r["energy"]), np.asarray(r["gradient"])

    mol = geometry_mole(molecule.atomic_numbers, molecule.positions_bohr)
    pos_bohr, _ = optimize_geometry(mol, energy_gradient, max_steps=max_steps)
    return molecule.with_positions(pos_bohr * units.BOHR_TO_ANGSTROM)


def hessian_fd(atomic_numbers, positions_bohr, *, step_bohr: float = 5e-3, charge: int = 0, uhf: int = 0,
               done: Callable[[float], None] | None = None) -> np.ndarray:
    """Central finite-difference Hessian of the GFN2-xTB energy, ``(n, n, 3, 3)`` Hartree/bohr^2
    (PySCF's layout); ``done(fraction)`` after each displaced pair."""
    pos = np.asarray(positions_bohr, float)
    n = len(pos)
    calc = _calculator(atomic_numbers, pos, charge, uhf)
    hess = np.zeros((n, 3, n, 3))
    for a in range(n):
        for x in range(3):
            grads = []
            for sign in (+1, -1):
                p = pos.copy()
                p[a, x] += sign * step_bohr
                calc.update(positions=p)
                grads.append(np.asarray(_point(calc)["gradient"]))
            hess[a, x] = (grads[0] - grads[1]) / (2 * step_bohr)
            if done:
                done((3 * a + x + 1) / (3 * n))
    hess = 0.5 * (hess + hess.transpose(2, 3, 0, 1))
    return hess.transpose(0, 2, 1, 3)


def frontier_orbitals(point: dict) -> tuple[float, float]:
    """``(HOMO, LUMO)`` (Hartree) from a single point: the highest occupied and lowest empty
    orbital over both spins for an open shell (LUMO NaN when there is no empty orbital)."""
    eps = np.atleast_2d(np.asarray(point["orbital-energies"], float))
    occ = np.atleast_2d(np.asarray(point["orbital-occupations"], float))
    occupied, empty = eps[occ > 1e-3], eps[occ <= 1e-3]
    homo = float(occupied.max())
    lumo = float(empty[empty > homo - 1e-12].min()) if (empty > homo - 1e-12).any() else float("nan")
    return homo, lumo


def run_xtb(molecule: Molecule, *, optimize_geometry: bool = True, frequencies: bool = True,
            progress: Callable[[str, float | None], None] | None = None) -> CalculationResult:
    """Quick GFN2-xTB estimate: energy, dipole, HOMO/LUMO, rotational constants, and (optionally)
    harmonic thermochemistry from a finite-difference Hessian. Clearly not QM9's level of theory.
    """
    require_xtb_domain(molecule)
    if molecule.positions is None:
        raise CalculationError("GFN2-xTB needs a 3D geometry")
    report = progress or (lambda stage, fraction=None: None)
    uhf = molecule.multiplicity - 1
    timings: dict[str, float] = {}
    if optimize_geometry:
        t0 = time.perf_counter()
        report("optimization", None)
        molecule = optimize(molecule, step=lambda k: report(f"optimization step {k}", None))
        timings["optimization"] = time.perf_counter() - t0
    z, pos = molecule.atomic_numbers, molecule.positions_bohr
    t0 = time.perf_counter()
    report("single point", None)
    sp = singlepoint(z, pos, molecule.charge, uhf)
    timings["singlepoint"] = time.perf_counter() - t0
    homo, lumo = frontier_orbitals(sp)
    raw = {"e_elec": float(sp["energy"]), "mu": float(np.linalg.norm(sp["dipole"]) * units.AU_TO_DEBYE),
           "homo": homo, "lumo": lumo, "gap": lumo - homo}
    abc = properties.qm9_rotational_constants_ghz(z, pos)
    raw.update(A=float(abc[0]), B=float(abc[1]), C=float(abc[2]))
    freqs, n_imag, warnings = None, 0, []
    if frequencies:
        t0 = time.perf_counter()
        report("Hessian", 0.0)
        hess = hessian_fd(z, pos, charge=molecule.charge, uhf=uhf, done=lambda f: report("Hessian", f))
        th, vib = thermochemistry_from_hessian(z, pos, hess, raw["e_elec"], multiplicity=molecule.multiplicity)
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


__all__ = ["METHOD", "XTB_ELEMENTS", "XTB_MAX_ATOMS", "singlepoint", "optimize", "hessian_fd", "run_xtb",
           "require_xtb_domain", "frontier_orbitals"]
