"""QM9's DFT protocol as a PySCF-style method object: configure, ``run(molecule)``, read the result.

QM9 (Ramakrishnan et al., Sci. Data 1, 140022 (2014)) is B3LYP/6-31G(2df,p) from Gaussian 09:
optimized geometry, analytic harmonic frequencies, ideal-gas thermochemistry at 298.15 K. This
module reproduces it with PySCF:

* functional ``b3lypg`` (B3LYP with VWN-RPA correlation, Gaussian's definition);
* Gaussian's 6-31G(2df,p): 2d exponents :math:`2\\alpha_d, \\alpha_d/2` from 6-31G*, Cartesian d
  and spherical f (6D/7F), see :mod:`molmtl.dft.basis` and :mod:`molmtl.dft.projected`;
* Gaussian 09's default integration grid, pruned (75, 302), and tight SCF convergence;
* no density fitting (Gaussian computes exact four-centre integrals).

Example::

    proto = QM9Protocol(optimize=False)
    result = proto.run(molecule)        # CalculationResult
    result.properties["homo"]           # eV
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, fields
from importlib.metadata import version

import numpy as np
import pyscf
from pyscf.dft import rks as cpu_rks

from molmtl import __version__, units
from molmtl.chem.molecule import Molecule
from molmtl.chem.validate import require_supported
from molmtl.dft import properties, xtb
from molmtl.dft import thermo as thermochem
from molmtl.dft.basis import CONVENTIONS, QM9_BASIS, build_mole, convention_map
from molmtl.dft.device import resolve_device
from molmtl.dft.df_metric import DF_HESSIAN_REVISION, consistent_metric
from molmtl.dft.optimize import optimize_geometry
from molmtl.dft.projected import cartesian_shadow, project
from molmtl.dft.result import CalculationResult, as_float_list, raw_to_registry
from molmtl.dft.vibrations import thermochemistry_from_hessian, vibration_warnings
from molmtl.errors import CalculationError, InputError
from molmtl.units import QM9_ELEMENTS

log = logging.getLogger(__name__)

#: The most atoms the protocol takes: with exact four-centre integrals, 18 atoms take over two
#: hours on 2 CPU cores (BENCHMARKS.md); 60 atoms are days there and hours on a GPU.
DFT_MAX_ATOMS = 60


@dataclass
class QM9Protocol:
    """Settings of the QM9 protocol; every one is explicit and recorded with each result.

    Attributes:
        xc: exchange-correlation functional (``b3lypg``: Gaussian's B3LYP).
        basis: ``QM9_BASIS`` (Gaussian's 6-31G(2df,p)) or any PySCF basis name (tests use small ones).
        convention: ``gaussian`` (6D/7F), ``spherical`` or ``cartesian``.
        grid: (radial, angular) points per atom; (75, 302) pruned is Gaussian 09's default.
        conv_tol: SCF energy convergence (Hartree); Gaussian's SCF=Tight corresponds to ~1e-9.
        max_cycle: SCF iterations before giving up.
        density_fit: density fitting (def2-universal-jkfit) everywhere; faster, about 0.1 mHa from exact.
        df_derivatives: density fitting for the geometry optimization and the Hessian only (each
            from its own density-fitted SCF); the reported energy, orbital energies, dipole, R2 and
            polarizability come from the exact SCF at the final geometry. Frequencies and geometry
            move little under density fitting, and these two stages dominate the protocol's time
            (``benchmarks/dft_density_fit.py`` measures the differences).
        optimize: optimize the geometry (geomeTRIC, Gaussian's convergence criteria).
        max_opt_steps: geometry optimization cycles allowed.
        thermo: analytic Hessian, frequencies and thermochemistry (ZPVE, U0, U, H, G, Cv).
        polarizability: static isotropic polarizability by coupled-perturbed KS.
        xtb_preopt: pre-optimize with GFN2-xTB before the DFT optimization.
        device: ``auto``, ``cpu`` or ``gpu`` (GPU4PySCF).
        symmetry_tolerance_bohr: tolerance of the point-group search giving the rotational
            symmetry number for G; 0 means no symmetry (sigma = 1). QM9's G uses the symmetry
            Gaussian found on its (unsymmetrized) final geometry: sigma = 1 for CH4 and NH3, 2 for
            H2O and C2H2. PySCF's detection at 1e-6 bohr reproduces QM9's sigma for 992 of the
            first 1000 molecules; the 8 others have a malformed frequency list in the dataset
            (``benchmarks/dft_symmetry_number.py``).
        temperature_k, pressure_pa: thermochemistry conditions (QM9: 298.15 K, 1 atm).
    """

    xc: str = "b3lypg"
    basis: str = QM9_BASIS
    convention: str = "gaussian"
    grid: tuple[int, int] = (75, 302)
    conv_tol: float = 1e-10
    max_cycle: int = 100
    density_fit: bool = False
    df_derivatives: bool = False
    optimize: bool = True
    max_opt_steps: int = 100
    thermo: bool = True
    polarizability: bool = True
    xtb_preopt: bool = False
    device: str = "auto"
    symmetry_tolerance_bohr: float = 1e-6
    temperature_k: float = thermochem.T_QM9_K
    pressure_pa: float = thermochem.P_QM9_PA

    def __post_init__(self):
        if self.convention not in CONVENTIONS:
            raise InputError(f"basis convention {self.convention!r} is not one of {', '.join(CONVENTIONS)}")
        if self.device not in ("auto", "cpu", "gpu"):
            raise InputError(f"device {self.device!r} is not one of auto, cpu, gpu")
        self.grid = tuple(int(g) for g in self.grid)
        if len(self.grid) != 2 or min(self.grid) <= 0:
            raise InputError(f"grid {self.grid} must be two positive numbers (radial, angular)")
        if self.df_derivatives and self.density_fit:
            raise InputError("df_derivatives (--df-derivatives) adds nothing to density_fit (--density-fit), "
                             "which fits every stage already: choose one")
        if not 0 < self.conv_tol < 1e-3:
            raise InputError(f"conv_tol {self.conv_tol} must lie between 0 and 1e-3 Hartree")

    # ------------------------------------------------------------------ description
    @property
    def method(self) -> str:
        basis = "6-31G(2df,p) [Gaussian, 6D/7F]" if self.basis == QM9_BASIS and self.convention == "gaussian" else \
            f"{self.basis} [{self.convention}]"
        return f"{self.xc.upper()}/{basis}"

    @property
    def is_qm9_level(self) -> bool:
        """True when functional, basis and convention are QM9's (atomization energies are meaningful)."""
        return self.xc.lower() in ("b3lypg", "b3lyp") and self.basis == QM9_BASIS and self.convention == "gaussian"

    def settings(self) -> dict:
        """Everything that changes a number, for the store key (device excluded: same numbers)."""
        d = asdict(self)
        d.pop("device")
        if not self.df_derivatives:  # added later: left out at its default so earlier store keys still match
            d.pop("df_derivatives")
        d["grid"] = list(self.grid)
        return d

    @classmethod
    def from_settings(cls, settings: dict, **overrides) -> "QM9Protocol":
        names = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in settings.items() if k in names}, **overrides})

    def versions(self) -> dict[str, str]:
        """Code versions that change the numbers (part of the store key)."""
        out = {"molmtl": __version__, "pyscf": pyscf.__version__}
        if self.optimize:  # the optimizer decides where, inside its tolerance, the geometry ends
            out["geometric"] = version("geometric")
        if self.xtb_preopt:  # the DFT optimization starts from tblite's geometry
            out["tblite"] = version("tblite")
        if self.thermo and (self.density_fit or self.df_derivatives):
            # density-fitted Hessians before this fix (molmtl.dft.df_metric) were wrong on the CPU:
            # a new key, so that a store never serves one of them again
            out["df_hessian"] = DF_HESSIAN_REVISION
        return out

    # ------------------------------------------------------------------ building blocks
    def build_mole(self, atomic_numbers, positions_bohr, charge: int = 0):
        return build_mole(atomic_numbers, positions_bohr, basis=self.basis, convention=self.convention, charge=charge)

    def make_scf(self, mol, device: str = "cpu", density_fit: bool | None = None):
        """A configured (not yet run) RKS object for ``mol`` (``density_fit``: None = the setting)."""
        if device == "gpu":
            from gpu4pyscf.dft import (
                rks,  # lazy: GPU4PySCF is optional and needs a CUDA GPU
            )
        else:
            rks = cpu_rks
        mf = rks.RKS(mol, xc=self.xc)
        mf.grids.atom_grid = self.grid
        mf.conv_tol = self.conv_tol
        mf.max_cycle = self.max_cycle
        if self.density_fit if density_fit is None else density_fit:
            mf = mf.density_fit(auxbasis="def2-universal-jkfit")
        t = convention_map(mol, self.convention)
        return project(mf, t, gpu=device == "gpu") if t is not None else mf

    def scf(self, mol, device: str = "cpu", dm0=None, density_fit: bool | None = None):
        """Run the SCF; raise CalculationError if it does not converge."""
        mf = self.make_scf(mol, device, density_fit)
        mf.kernel(dm0=dm0)
        if not mf.converged:
            raise CalculationError(f"SCF did not converge in {self.max_cycle} cycles")
        return mf

    # ------------------------------------------------------------------ the protocol
    #: The most atoms the protocol takes (exact four-centre integrals: days beyond this on a CPU).
    max_atoms = DFT_MAX_ATOMS

    def check(self, molecule: Molecule) -> None:
        """UnsupportedMoleculeError unless the protocol takes ``molecule``: QM9's elements (its basis,
        6-31G(2df,p) as Gaussian defines it, has no other), neutral, closed shell (restricted Kohn-Sham)."""
        require_supported(molecule, elements=QM9_ELEMENTS, method="the QM9 DFT protocol (restricted B3LYP; QM9's "
                          "elements H, C, N, O, F)")

    def run(self, molecule: Molecule, progress=None) -> CalculationResult:
        """Run the protocol on ``molecule`` (which needs a 3D geometry); ``progress(stage, fraction)``
        is told each stage (optimization step k, SCF, polarizability, Hessian)."""
        self.check(molecule)
        if molecule.positions is None:
            raise InputError(f"{molecule.name or molecule.smiles or molecule.formula} has no 3D geometry")
        report = progress or (lambda stage, fraction=None: None)
        device = resolve_device(self.device)
        timings: dict[str, float] = {}
        warnings: list[str] = []

        if self.xtb_preopt:
            t0 = time.perf_counter()
            report("GFN2-xTB pre-optimization", None)
            molecule = xtb.optimize(molecule)
            timings["xtb_preopt"] = time.perf_counter() - t0

        z = molecule.atomic_numbers
        mol = self.build_mole(z, molecule.positions_bohr, molecule.charge)
        dm0 = None
        if self.optimize:
            t0 = time.perf_counter()
            report("optimization", None)
            mol, dm0 = self._optimize(mol, device, report)
            timings["optimization"] = time.perf_counter() - t0
            log.info("stage optimization done in %.1f s", timings["optimization"])

        t0 = time.perf_counter()
        report("SCF", None)
        mf = self.scf(mol, device, dm0=dm0)  # from the optimizer's last density: a few cycles
        timings["scf"] = time.perf_counter() - t0
        log.info("stage scf done in %.1f s (E = %.10f Eh)", timings["scf"], mf.e_tot)

        t0 = time.perf_counter()
        raw = self._scf_properties(mf)
        timings["properties"] = time.perf_counter() - t0
        if self.polarizability:
            t0 = time.perf_counter()
            report("polarizability", None)
            if device == "gpu":  # GPU4PySCF's CPKS (ran on one H100)
                from gpu4pyscf.properties.polarizability import (
                    eval_polarizability,  # lazy: optional, GPU only
                )

                tensor = eval_polarizability(cartesian_shadow(mf))
            else:
                tensor = properties.polarizability_tensor_au(cartesian_shadow(mf))
            raw["alpha"] = properties.isotropic_polarizability_bohr3(_to_numpy(tensor))
            timings["polarizability"] = time.perf_counter() - t0
            log.info("stage polarizability done in %.1f s", timings["polarizability"])

        freqs, n_imag = None, 0
        if self.thermo:
            t0 = time.perf_counter()
            report("Hessian", None)
            hess_mf = mf
            if self.df_derivatives and not self.density_fit:  # a density-fitted SCF, from the exact density
                hess_mf = self.scf(mf.mol, device, dm0=mf.make_rdm1(), density_fit=True)
            th, vib = thermochemistry_from_hessian(
                z, mol.atom_coords(unit="Bohr"), self._hessian(hess_mf), raw["e_elec"],
                symmetry_tolerance_bohr=self.symmetry_tolerance_bohr, temperature_k=self.temperature_k,
                pressure_pa=self.pressure_pa)
            timings["hessian"] = time.perf_counter() - t0
            log.info("stage hessian done in %.1f s", timings["hessian"])
            freqs, n_imag = vib.frequencies_cm1, vib.n_imaginary
            warnings += vibration_warnings(vib)
            raw.update(th)

        props = raw_to_registry(raw, z)
        if not self.is_qm9_level:  # QM9's atom references are B3LYP/6-31G(2df,p) energies
            props = {k: v for k, v in props.items() if not k.endswith("_atom")}
            warnings.append(f"{self.method} is not QM9's level of theory: values are not comparable with QM9's "
                            "labels, and atomization energies are left out")
        return CalculationResult(
            method=self.method, raw=raw, properties=props, timings_s=timings,
            atomic_numbers=[int(a) for a in z],
            positions_angstrom=as_float_list(mol.atom_coords(unit="Bohr") * units.BOHR_TO_ANGSTROM),
            frequencies_cm1=as_float_list(freqs) if freqs is not None else None, n_imaginary=n_imag,
            settings=self.settings(), warnings=warnings + list(molecule.warnings), device=device,
        )

    def _optimize(self, mol, device, report=None):
        """The optimized molecule and the last SCF density (a converged guess at that geometry)."""
        state = {"dm": None, "step": 0}

        fit = True if self.df_derivatives else None

        def energy_gradient(m):
            state["step"] += 1
            if report:
                report(f"optimization step {state['step']}", None)
            mf = self.scf(m, device, dm0=state["dm"], density_fit=fit)
            state["dm"] = mf.make_rdm1()
            grad = cartesian_shadow(mf).nuc_grad_method()
            grad.verbose = 0
            return float(mf.e_tot), _to_numpy(grad.kernel())

        pos, steps = optimize_geometry(mol, energy_gradient, max_steps=self.max_opt_steps)
        log.info("DFT geometry optimization: %d steps", steps)
        return mol.set_geom_(pos, unit="Bohr", inplace=False), state["dm"]

    def _scf_properties(self, mf) -> dict[str, float]:
        mol = mf.mol
        dm = _to_numpy(mf.cart_rdm1() if hasattr(mf, "cart_rdm1") else mf.make_rdm1())
        eps = _to_numpy(mf.mo_energy)
        nocc = mol.nelectron // 2
        abc = properties.qm9_rotational_constants_ghz(mol.atom_charges(), mol.atom_coords(unit="Bohr"))
        raw = {"e_elec": float(mf.e_tot), "homo": float(eps[nocc - 1]), "lumo": float(eps[nocc]),
               "mu": properties.dipole_moment_debye(mol, dm), "r2": properties.spatial_extent_bohr2(mol, dm),
               "A": float(abc[0]), "B": float(abc[1]), "C": float(abc[2])}
        raw["gap"] = raw["lumo"] - raw["homo"]
        return raw

    def _hessian(self, mf) -> np.ndarray:
        """The analytic Hessian ``(n, n, 3, 3)`` (Hartree/bohr^2) at ``mf``'s geometry."""
        hess_obj = cartesian_shadow(mf).Hessian()
        hess_obj.verbose = 0
        with consistent_metric(mf.mol):  # PySCF's CPU DF Hessian, Cartesian auxiliary basis (see df_metric)
            return _to_numpy(hess_obj.kernel())


def _to_numpy(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)
