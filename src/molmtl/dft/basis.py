"""Gaussian's 6D/7F convention for Pople basis sets, built on a Cartesian PySCF molecule.

Gaussian 09 runs the 6-31G family with six Cartesian d functions (6D) but seven spherical
f functions (7F). PySCF's ``Mole.cart`` switch is all-or-nothing, so a 6D/7F basis is not
a PySCF option. We build the molecule with ``cart=True`` and restrict the AO space with a
fixed, geometry-independent linear map :math:`T` (identity on s, p and Cartesian d functions;
PySCF's Cartesian-to-spherical block on each f shell):

.. math::
    \\chi' = \\chi_{\\mathrm{cart}} T, \\qquad S' = T^\\top S T, \\qquad
    D_{\\mathrm{cart}} = T D' T^\\top, \\qquad F' = T^\\top F[D_{\\mathrm{cart}}]\\, T.

Because :math:`T` only mixes functions of one shell, it moves with the atoms, so nuclear
derivatives of any integral in the mixed basis are :math:`T^\\top (\\partial X) T`: the
Cartesian gradient and Hessian codes give the mixed-basis ones when fed ``T @ C'``.
"""

from __future__ import annotations

import warnings

import numpy as np
from pyscf import gto
from pyscf.lib.exceptions import BasisNotFoundError

from molmtl.errors import InputError

#: Basis conventions: which angular momenta (l) are kept Cartesian.
#: ``gaussian``: 6D/7F (Cartesian d only), as Gaussian's 6-31G family; ``spherical``: 5D/7F;
#: ``cartesian``: 6D/10F.
CONVENTIONS = ("gaussian", "spherical", "cartesian")

#: QM9's basis set: 6-31G(2df,p) as Gaussian 09 defines it (see :func:`gaussian_631g_2df_p`).
QM9_BASIS = "6-31g(2df,p)/gaussian"

#: d exponent of 6-31G* for the first-row atoms QM9 contains (Hariharan & Pople 1973).
_D_EXPONENT_631GS = {"C": 0.8, "N": 0.8, "O": 0.8, "F": 0.8}


def gaussian_631g_2df_p(symbols) -> dict:
    """6-31G(2df,p) with Gaussian's 2d exponents, as a PySCF basis dict.

    Gaussian builds a multiple-d set from the single 6-31G* exponent :math:`\alpha_d`:
    two d shells with :math:`2\alpha_d` and :math:`\alpha_d/2` (C-F: 1.6 and 0.4 bohr^-2).
    PySCF's (Basis Set Exchange) ``6-31g(2df,p)`` instead carries the 6-311G-derived pair
    (C: 1.252/0.313, O: 2.584/0.646). The s/p shells, the f shell and hydrogen's p shell are
    identical in both. Measured: with BSE's exponents the B3LYP energy of CH4 at its QM9
    geometry is 0.54 mHa above QM9's U0 - ZPVE (H2O 3.4 mHa); with Gaussian's, within 0.01 mHa.
    """
    out = {}
    for el in sorted(set(symbols)):
        shells = gto.basis.load("6-31g(2df,p)", el)
        if el in _D_EXPONENT_631GS:
            a = _D_EXPONENT_631GS[el]
            no_d = [sh for sh in shells if sh[0] != 2]
            f = [sh for sh in no_d if sh[0] == 3]
            out[el] = [sh for sh in no_d if sh[0] < 2] + [[2, [2 * a, 1.0]], [2, [a / 2, 1.0]]] + f
        else:
            out[el] = shells
    return out


def resolve_basis(basis, symbols):
    """PySCF basis spec for ``basis``: QM9's Gaussian-defined set, or any PySCF basis name or dict."""
    if isinstance(basis, str) and basis.lower() == QM9_BASIS:
        return gaussian_631g_2df_p(symbols)
    return basis


def build_mole(atomic_numbers, positions_bohr, *, basis: str = QM9_BASIS, convention: str = "gaussian",
               charge: int = 0, spin: int = 0, verbose: int = 0) -> gto.Mole:
    """PySCF molecule for ``convention``: Cartesian for ``gaussian``/``cartesian``, spherical otherwise.

    Args:
        atomic_numbers: ``(n,)`` ints.
        positions_bohr: ``(n, 3)`` floats, bohr.
        basis: ``QM9_BASIS`` (Gaussian's 6-31G(2df,p)) or any PySCF basis name.
        convention: one of :data:`CONVENTIONS`.
        charge: total charge (e).
        spin: 2S (number of unpaired electrons).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown basis convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    atoms = [(gto.mole._symbol(int(z)), tuple(float(c) for c in xyz)) for z, xyz in zip(atomic_numbers, np.asarray(positions_bohr))]
    mol = gto.Mole()
    mol.atom = atoms
    mol.unit = "Bohr"
    mol.basis = resolve_basis(basis, [a[0] for a in atoms])
    mol.charge = int(charge)
    mol.spin = int(spin)
    mol.cart = convention != "spherical"
    mol.verbose = verbose
    try:
        with warnings.catch_warnings():  # PySCF's install hint would come before our one-line error
            warnings.filterwarnings("ignore", message="Basis may be available in basis-set-exchange")
            mol.build()
    except BasisNotFoundError:  # an unknown basis name, or one without parameters for an element here
        raise InputError(f"basis {basis!r} is not a PySCF basis with parameters for "
                         f"{', '.join(sorted({a[0] for a in atoms}))}") from None
    return mol


def ao_map(mol: gto.Mole, *, cartesian_l: tuple[int, ...] = (0, 1, 2)) -> np.ndarray:
    """The map :math:`T` from the reduced AO space to ``mol``'s Cartesian AOs.

    Shells with ``l`` in ``cartesian_l`` keep their Cartesian functions; every other shell is
    replaced by its ``2l+1`` real spherical harmonics (PySCF's normalization and order).

    Args:
        mol: a molecule built with ``cart=True``.
        cartesian_l: angular momenta kept Cartesian; ``(0, 1, 2)`` is Gaussian's 6D/7F.

    Returns:
        ``(nao_cart, nao_reduced)`` array with one block per shell.
    """
    if not mol.cart:
        raise ValueError("ao_map needs a molecule built with cart=True")
    blocks = []
    for ib in range(mol.nbas):
        l = mol.bas_angular(ib)
        ncart = (l + 1) * (l + 2) // 2
        block = np.eye(ncart) if l in cartesian_l else gto.cart2sph(l, normalized="sp")
        blocks.extend([block] * mol.bas_nctr(ib))
    nrow = sum(b.shape[0] for b in blocks)
    ncol = sum(b.shape[1] for b in blocks)
    t = np.zeros((nrow, ncol))
    i = j = 0
    for b in blocks:
        t[i:i + b.shape[0], j:j + b.shape[1]] = b
        i += b.shape[0]
        j += b.shape[1]
    assert nrow == mol.nao_nr(), "AO count mismatch"
    return t


def convention_map(mol: gto.Mole, convention: str) -> np.ndarray | None:
    """``T`` for ``convention`` on ``mol``, or None where the molecule's own AOs are the basis."""
    if convention == "gaussian":
        return ao_map(mol, cartesian_l=(0, 1, 2))
    return None


def geometry_mole(atomic_numbers, positions_bohr) -> gto.Mole:
    """A PySCF molecule that only carries atoms and coordinates (geomeTRIC, harmonic analysis,
    symmetry detection): one s function per atom, so any element from H to Rn builds, and the
    spin of the neutral atoms' electron count."""
    z = [int(a) for a in atomic_numbers]
    atoms = [(gto.mole._symbol(a), tuple(float(c) for c in xyz)) for a, xyz in zip(z, np.asarray(positions_bohr))]
    return gto.M(atom=atoms, unit="Bohr", basis={sym: [[0, [1.0, 1.0]]] for sym, _ in atoms}, spin=sum(z) % 2, verbose=0)
