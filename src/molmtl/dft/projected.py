"""Restricted Kohn-Sham in a linearly restricted AO space (the 6D/7F basis of :mod:`.basis`).

All integrals, densities, XC and J/K builds stay in the Cartesian AO basis of ``mol``; the SCF
solves in the reduced space :math:`\\chi' = \\chi T`:

.. math::
    h' = T^\\top h T,\\quad S' = T^\\top S T,\\quad
    V'_{\\mathrm{JKXC}}[D'] = T^\\top V_{\\mathrm{JKXC}}[T D' T^\\top]\\, T.

Energies are traces over the Cartesian density, so ``e_tot`` is the mixed-basis energy.
:func:`cartesian_shadow` returns a plain Cartesian RKS object holding ``T C'`` as its (non-square)
orbitals; PySCF's gradient, Hessian and response code then work in the mixed basis unchanged.
"""

from __future__ import annotations

import numpy as np
from pyscf import dft, lib


class _ProjectionMixin:
    """The projected SCF pieces, written once for numpy (PySCF) and cupy (GPU4PySCF) bases."""

    _keys = {"ao_map"}

    def _tag(self, v, **tags):
        if _array_module(v) is np:
            return lib.tag_array(v, **tags)
        from gpu4pyscf.lib.cupy_helper import (
            tag_array,  # lazy: GPU4PySCF/CuPy are optional, GPU only
        )

        return tag_array(v, **tags)

    def get_hcore(self, mol=None):
        t = self.ao_map
        return t.T @ super().get_hcore(mol) @ t

    def get_ovlp(self, mol=None):
        t = self.ao_map
        return t.T @ super().get_ovlp(mol) @ t

    def get_veff(self, mol=None, dm=None, dm_last=0, vhf_last=0, hermi=1):
        if mol is None:
            mol = self.mol
        if dm is None:
            dm = self.make_rdm1()
        t = self.ao_map
        dm_cart = t @ dm @ t.T
        # Incremental J/K build in the Cartesian space: the previous Cartesian potential rides along
        # as the tag ``cart``; without one (first cycle, or a caller's own vhf) build from scratch.
        v_last = getattr(vhf_last, "cart", None)
        if v_last is not None and getattr(dm_last, "ndim", 0) == dm.ndim:
            v = super().get_veff(mol, dm_cart, t @ dm_last @ t.T, v_last, hermi)
        else:
            v = super().get_veff(mol, dm_cart, 0, 0, hermi)
        return self._tag(t.T @ v @ t, ecoul=v.ecoul, exc=v.exc, vj=None, vk=None, cart=v)

    def get_init_guess(self, mol=None, key="minao", **kwargs):
        """Project a Cartesian guess density: :math:`D' = P D P^\\top`, :math:`P = S'^{-1} T^\\top S`."""
        dm_cart = super().get_init_guess(mol, key, **kwargs)
        if getattr(dm_cart, "shape", (0,))[-1] != self.ao_map.shape[0]:
            return dm_cart  # already in the reduced space (e.g. a guess given by the caller)
        t = self.ao_map
        s_cart = super().get_ovlp(mol)
        xp = _array_module(t)
        p = xp.linalg.solve(t.T @ s_cart @ t, t.T @ s_cart)
        return p @ dm_cart @ p.T

    @property
    def cart_mo_coeff(self):
        return self.ao_map @ self.mo_coeff

    def cart_rdm1(self):
        """Density matrix in ``mol``'s Cartesian AOs."""
        t = self.ao_map
        return t @ self.make_rdm1() @ t.T

    def dip_moment(self, *args, **kwargs):  # PySCF's would pair the reduced density with Cartesian integrals
        raise NotImplementedError("use molmtl.dft.properties.dipole_moment_debye with cart_rdm1()")

    def nuc_grad_method(self):
        return cartesian_shadow(self).nuc_grad_method()

    Gradients = nuc_grad_method


def _array_module(a):
    if type(a).__module__.startswith("cupy"):
        import cupy  # lazy: GPU4PySCF/CuPy are optional, GPU only

        return cupy
    return np


class ProjectedRKS(_ProjectionMixin, dft.rks.RKS):
    """RKS whose AO space is ``mol``'s Cartesian AOs times a fixed map ``ao_map`` (``(nao, nao')``).

    ``mo_coeff`` is ``(nao', nmo)``; ``cart_mo_coeff`` gives ``(nao, nmo)`` orbitals in ``mol``'s AOs.
    """

    def __init__(self, mol, ao_map: np.ndarray, xc: str = "b3lypg"):
        dft.rks.RKS.__init__(self, mol, xc=xc)
        _attach_map(self, ao_map)


def _attach_map(mf, ao_map: np.ndarray, gpu: bool = False) -> None:
    """Check ``ao_map`` against ``mf.mol`` and store it (as a cupy array with ``gpu``)."""
    if ao_map.shape[0] != mf.mol.nao_nr():
        raise ValueError(f"ao_map has {ao_map.shape[0]} rows; the molecule has {mf.mol.nao_nr()} AOs")
    if gpu:
        import cupy  # lazy: GPU4PySCF/CuPy are optional, GPU only

        mf.ao_map = cupy.asarray(ao_map)
    else:
        mf.ao_map = np.asarray(ao_map)


def project(mf, ao_map: np.ndarray, gpu: bool = False):
    """Restrict ``mf`` (an unrun RKS of PySCF, or of GPU4PySCF with ``gpu``; density-fitted or
    not) to the AO space ``mol``'s AOs times ``ao_map``.

    The projection is put in front of ``mf``'s own class, so it wraps whatever builds the potential
    there: GPU4PySCF's density-fitted SCF overrides ``get_veff`` itself, and a projection placed
    behind it (``ProjectedRKS(...).density_fit()``) would never be called.
    """
    mf = lib.set_class(mf, (_ProjectionMixin, mf.__class__))
    _attach_map(mf, ao_map, gpu)
    return mf


def cartesian_shadow(mf) -> dft.rks.RKS:
    """A converged Cartesian RKS object standing in for ``mf`` (itself if it is not projected).

    Its ``mo_coeff`` is ``T C'`` (``(nao, nmo')``, not square), which PySCF's gradient, Hessian and
    CPKS code accept: every quantity they form is :math:`C^\\top X C` or :math:`C n C^\\top`.
    """
    if not isinstance(mf, _ProjectionMixin):
        return mf
    gpu = _array_module(mf.ao_map) is not np
    if not gpu:
        shadow = dft.rks.RKS(mf.mol, xc=mf.xc)
    else:  # GPU4PySCF
        from gpu4pyscf.dft import (
            rks as gpu_rks,  # lazy: GPU4PySCF/CuPy are optional, GPU only
        )

        shadow = gpu_rks.RKS(mf.mol, xc=mf.xc)
    shadow.grids = mf.grids
    shadow.conv_tol = mf.conv_tol
    shadow.max_memory = mf.max_memory
    shadow.verbose = mf.verbose
    shadow.mo_coeff = mf.cart_mo_coeff
    shadow.mo_occ = mf.mo_occ
    shadow.mo_energy = mf.mo_energy
    shadow.e_tot = mf.e_tot
    shadow.converged = mf.converged
    if getattr(mf, "with_df", None) is not None:
        shadow = shadow.density_fit(auxbasis=mf.with_df.auxbasis)
        if gpu and shadow.with_df.auxmol is None:
            # GPU4PySCF 1.9's DF gradient reads with_df.auxmol without building it (its Hessian and
            # PySCF's gradient build their own); the shadow never ran an SCF, so build the index here.
            shadow.with_df.build(build_cderi=False)
        shadow.mo_coeff, shadow.mo_occ, shadow.mo_energy = mf.cart_mo_coeff, mf.mo_occ, mf.mo_energy
        shadow.e_tot, shadow.converged = mf.e_tot, mf.converged
    return shadow
