r"""Exact relations between QM9's targets, imposed on a model's predictions.

A network with one head per target predicts 19 free numbers, and nothing makes them agree with
each other or with the input: ethanol's H - U came out 64.7 meV where an ideal gas has exactly
:math:`k_B T` = 25.7 meV. These pure functions turn such predictions into a consistent set (all
energies in eV, rotational constants in GHz, positions in Angstrom):

* **rotational constants** are computed from the geometry in use
  (:func:`molmtl.chem.rotors.qm9_rotational_constants_ghz`), not predicted;
* **totals and atomization energies**: for each of U0, U, H, G the total head and the
  atomization head estimate the same number up to the constant atom-reference sum
  :math:`R_X = \sum_i e^{\mathrm{atom}}_X(Z_i)` (QM9's free-atom energies), so the total is their
  mean, :math:`X = \tfrac12 (\hat X + \hat X_{\mathrm{atom}} + R_X)`, and
  :math:`X_{\mathrm{atom}} = X - R_X` exactly;
* **thermal corrections**: the model gives U0 and two thermal corrections,
  :math:`\Delta U = U - U_0` and :math:`TS = H - G`, and then :math:`U = U_0 + \Delta U`,
  :math:`H = U + k_B T` (the ideal gas), :math:`G = H - TS`. The corrections are differences of
  heads that share one encoder, whose errors largely cancel:
  :math:`\Delta U = \tfrac12[(U - U_0) + (H - k_B T - U_0)]` and :math:`TS = H - G` of the totals
  above; U0 is the mean of the estimates all eight total and atomization heads give once their
  correction is taken off. On the shipped model's test split this lowers every one of the eight
  energies' MAE (``BENCHMARKS.md``, "Outputs that obey physics").

The dipole moment's own relation (a norm of a vector, zero by symmetry) is built into the dipole
readout (:mod:`molmtl.models.heads`), not imposed here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from molmtl import units
from molmtl.chem.rotors import isotope_mass_table, qm9_rotational_constants_ghz

#: :math:`k_B T` at QM9's 298.15 K (eV): H - U of an ideal gas, per molecule.
KT_EV = units.BOLTZMANN_EV_PER_K * units.QM9_TEMPERATURE_K

_ROTOR = "from the input geometry: rigid rotor, main-isotope masses"
_ENERGY = ("from exact relations: X_atom = X - QM9's atom references, H = U + kT, U = U0 + dU and G = H - TS, "
           "with U0 the mean of the eight energy heads' estimates")
#: How each derived output is obtained.
DERIVED = {"A": _ROTOR, "B": _ROTOR, "C": _ROTOR,
           **{k: _ENERGY for q in ("U0", "U", "H", "G") for k in (q, f"{q}_atom")}}

_THERMO = ("U0", "U", "H", "G")


def reference_sums_ev(atomic_numbers: np.ndarray) -> dict[str, np.ndarray]:
    """QM9's free-atom reference sums :math:`R_X` (eV) for X in U0, U, H, G, ``(n,)`` each, from
    padded atomic numbers ``(n, N)`` (0 = padding). NaN for molecules with an element QM9 has no
    reference for."""
    z = np.asarray(atomic_numbers, dtype=np.int64)
    out = {}
    for q in _THERMO:
        table = units.atom_reference_table_hartree(q, max_z=max(int(z.max(initial=0)), 9)) * units.HARTREE_TO_EV
        known = np.isin(z, [0, *units.ATOM_REFERENCE_HARTREE])
        out[q] = np.where(known.all(axis=1), table[z].sum(axis=1), np.nan)
    return out


def head_corrections(values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """``(dU, TS)`` (eV) from the heads' own differences (``TS`` None without a G head); needs
    U0, U and H in ``values``."""
    dU = 0.5 * ((values["U"] - values["U0"]) + (values["H"] - KT_EV - values["U0"]))
    return dU, (values["H"] - values["G"] if "G" in values else None)


def consistent_energies(values: dict[str, np.ndarray], refs: dict[str, np.ndarray], dU: np.ndarray | None = None,
                        TS: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The energies of ``values`` (key -> ``(n,)`` eV; any of U0, U, H, G and their ``_atom``
    forms) made consistent as the module describes, as far as the keys given allow; a new dict
    with the same keys. ``dU``, ``TS``: the thermal corrections (default: :func:`head_corrections`
    of the totals). A molecule with NaN references (an element QM9 has no atom energy for) uses
    the total heads alone and gets NaN atomization energies."""
    # Every head's estimate of each total (atomization heads plus their references).
    est: dict[str, list[np.ndarray]] = {}
    for q in _THERMO:
        e = ([values[q]] if q in values else []) + ([values[f"{q}_atom"] + refs[q]] if f"{q}_atom" in values else [])
        if e:
            est[q] = e
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: unknown references, no total head
        total = {q: np.nanmean(e, axis=0) for q, e in est.items()}
        if {"U0", "U", "H"} <= total.keys():
            if dU is None:
                dU, TS = head_corrections(total)
            corr = {"U0": 0.0, "U": dU, "H": dU + KT_EV}
            if TS is not None and "G" in total:
                corr["G"] = dU + KT_EV - TS
            u0 = np.nanmean([x - c for q, c in corr.items() for x in est[q]], axis=0)
            total.update({q: u0 + c for q, c in corr.items()})
    out = dict(values)
    for q, t in total.items():
        if q in values:
            out[q] = t
        if f"{q}_atom" in values:
            out[f"{q}_atom"] = t - refs[q]
    return out


def computed_rotational_constants(atomic_numbers: np.ndarray, positions_angstrom: np.ndarray) -> np.ndarray:
    """``(n, 3)`` A, B, C (GHz, QM9's convention: A = 0 for a linear molecule) of padded
    molecules: atomic numbers ``(n, N)`` (0 = padding), positions ``(n, N, 3)`` Angstrom."""
    z = np.asarray(atomic_numbers, dtype=np.int64)
    masses = isotope_mass_table(max(int(z.max(initial=0)), 9))[z]
    return qm9_rotational_constants_ghz(masses, positions_angstrom)


def apply_relations(pred: np.ndarray, keys: Sequence[str], atomic_numbers: np.ndarray,
                    positions_angstrom: np.ndarray | None = None) -> np.ndarray:
    """Predictions ``(n, T)`` (columns ``keys``, the registry's units) with the relations
    imposed: a new array. Rotational constants are computed only when positions are given
    (a 2D model's stay predicted)."""
    keys = list(keys)
    col = {k: i for i, k in enumerate(keys)}
    out = np.array(pred, dtype=np.float64, copy=True)
    energy_keys = [k for k in keys if k in _THERMO or (k.endswith("_atom") and k[:-5] in _THERMO)]
    if energy_keys:
        fixed = consistent_energies({k: out[:, col[k]] for k in energy_keys}, reference_sums_ev(atomic_numbers))
        for k in energy_keys:
            out[:, col[k]] = fixed[k]
    rot = [k for k in ("A", "B", "C") if k in col]
    if rot and positions_angstrom is not None:
        abc = computed_rotational_constants(atomic_numbers, positions_angstrom)
        for k in rot:
            out[:, col[k]] = abc[:, "ABC".index(k)]
    return out


def derived_keys(keys: Sequence[str], has_positions: bool) -> dict[str, str]:
    """Which of ``keys`` :func:`apply_relations` derives rather than takes from a head, and how
    (key -> sentence; the wording assumes all eight energies, as QM9 models have)."""
    keys = set(keys)
    quantities = {q for q in _THERMO if q in keys or f"{q}_atom" in keys}
    thermal = {"U0", "U", "H"} <= quantities
    out = {k: _ROTOR for k in "ABC" if k in keys and has_positions}
    for q in _THERMO:
        for k in (q, f"{q}_atom"):
            paired = q in keys and f"{q}_atom" in keys
            if k in keys and (paired or (thermal and (q != "G" or "G" in quantities))):
                out[k] = DERIVED[k]
    return out


__all__ = ["KT_EV", "DERIVED", "reference_sums_ev", "consistent_energies", "computed_rotational_constants",
           "apply_relations", "derived_keys"]
