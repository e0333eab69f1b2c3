"""GFN2-xTB as a method: seconds, every element from H to Rn, charges and unpaired electrons;
through the results store. Another level of theory than QM9's, and labelled so."""

from __future__ import annotations

from molmtl.chem.molecule import Molecule
from molmtl.dft.jobs import XTBJob
from molmtl.dft.store import ResultStore
from molmtl.dft.xtb import METHOD, XTB_MAX_ATOMS, require_xtb_domain
from molmtl.methods.base import Method, Progress
from molmtl.methods.calculation import stored_calculation
from molmtl.methods.estimate import stage_seconds
from molmtl.methods.registry import METHODS
from molmtl.methods.result import MethodResult


@METHODS.register("xtb")
class XTBMethod(Method):
    """GFN2-xTB (tblite): energies, orbitals, dipole and thermochemistry in seconds.

    Args:
        optimize (bool): optimize the geometry with GFN2-xTB first.
        frequencies (bool): finite-difference Hessian: frequencies, ZPVE, U0, U, H, G, Cv.
    """

    name = "xtb"
    max_atoms = XTB_MAX_ATOMS

    def __init__(self, optimize: bool = True, frequencies: bool = True, *, store: ResultStore | None = None, force: bool = False):
        self.job, self.store, self.force = XTBJob(optimize=optimize, frequencies=frequencies), store, force

    @property
    def level_of_theory(self) -> str:
        return METHOD

    def check(self, molecule: Molecule) -> list[str]:
        require_xtb_domain(molecule)
        return super().check(molecule)

    def estimate_seconds(self, molecule: Molecule) -> float:
        """From the atom count and the timings measured on this kind of machine (``typical.json``)."""
        n = molecule.n_atoms
        stages = ["singlepoint"] + (["optimization"] if self.job.optimize else []) + (["hessian"] if self.job.frequencies else [])
        total = [stage_seconds("xtb", s, n) for s in stages]
        return sum(t for t in total if t is not None) if any(t is not None for t in total) else 0.01 * n

    def run(self, molecule: Molecule, progress: Progress | None = None) -> MethodResult:
        warnings = self.check(molecule)
        result = stored_calculation(self.name, self.job, molecule, self.store, optimized=self.job.optimize,
                                    level_of_theory=METHOD, progress=progress, force=self.force)
        result.warnings = warnings + result.warnings
        # xTB's total energies have another zero than B3LYP's: no error against QM9's or DFT's is meaningful
        result.extras["not_comparable"] = [k for k in ("U0", "U", "H", "G") if k in result.properties]
        return result


__all__ = ["XTBMethod"]
