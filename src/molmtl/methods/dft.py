"""DFT at QM9's level as a method: the QM9 protocol (B3LYP/6-31G(2df,p), Gaussian's conventions),
through the results store, so the same molecule at the same settings is computed once."""

from __future__ import annotations

from molmtl.chem.molecule import Molecule
from molmtl.dft.basis import QM9_BASIS
from molmtl.dft.protocol import DFT_MAX_ATOMS, QM9Protocol
from molmtl.dft.store import ResultStore
from molmtl.methods.base import Method, Progress
from molmtl.methods.calculation import stored_calculation
from molmtl.methods.estimate import dft_seconds
from molmtl.methods.registry import METHODS
from molmtl.methods.result import MethodResult


@METHODS.register("dft")
class DFTMethod(Method):
    """DFT at QM9's level: B3LYP/6-31G(2df,p) with Gaussian's 6D/7F, its grid and convergence.

    Args:
        optimize (bool): optimize the geometry first (geomeTRIC, Gaussian's criteria).
        thermo (bool): analytic Hessian: frequencies, ZPVE, U0, U, H, G, Cv.
        polarizability (bool): isotropic polarizability (coupled-perturbed Kohn-Sham).
        device (str): auto, cpu or gpu (GPU4PySCF).
        basis (str): another PySCF basis (spherical functions; not QM9's level).
        density_fit (bool): density fitting everywhere (faster, about 0.1 mHa from exact).
        df_derivatives (bool): density fitting for the optimization and the Hessian only.
        xtb_preopt (bool): pre-optimize with GFN2-xTB.
    """

    name = "dft"
    max_atoms = DFT_MAX_ATOMS

    def __init__(self, optimize: bool = True, thermo: bool = True, polarizability: bool = True, device: str = "auto",
                 basis: str | None = None, density_fit: bool = False, df_derivatives: bool = False,
                 xtb_preopt: bool = False, *, store: ResultStore | None = None, force: bool = False):
        self.protocol = QM9Protocol(optimize=optimize, thermo=thermo, polarizability=polarizability, device=device,
                                    xtb_preopt=xtb_preopt, basis=basis or QM9_BASIS,
                                    convention="gaussian" if not basis else "spherical", density_fit=density_fit,
                                    df_derivatives=df_derivatives)
        self.store, self.force = store, force

    @property
    def level_of_theory(self) -> str:
        return self.protocol.method

    def check(self, molecule: Molecule) -> list[str]:
        self.protocol.check(molecule)
        return super().check(molecule)

    def basis_size(self, molecule: Molecule) -> int:
        """Atomic orbitals of ``molecule`` in the protocol's basis."""
        return int(self.protocol.build_mole(molecule.atomic_numbers, molecule.positions_bohr, molecule.charge).nao)

    def estimate_seconds(self, molecule: Molecule) -> float:
        """From the basis-set size and the stage timings measured on this kind of machine
        (``typical.json``; 2 CPU cores, or one GPU for ``device=gpu``)."""
        if molecule.positions is None:
            return float("nan")
        self.protocol.check(molecule)  # no basis for the element, open shell: one sentence, not PySCF's error
        return dft_seconds(self.basis_size(molecule), optimize=self.protocol.optimize,
                           from_b3lyp=molecule.source == "qm9", polarizability=self.protocol.polarizability,
                           thermo=self.protocol.thermo, device=self.protocol.device)

    def run(self, molecule: Molecule, progress: Progress | None = None) -> MethodResult:
        warnings = self.check(molecule)
        result = stored_calculation(self.name, self.protocol, molecule, self.store, optimized=self.protocol.optimize,
                                    level_of_theory="B3LYP/6-31G(2df,p)" if self.protocol.is_qm9_level else self.protocol.method,
                                    progress=progress, force=self.force)
        result.warnings = warnings + result.warnings
        return result

__all__ = ["DFTMethod"]
