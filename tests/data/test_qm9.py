"""QM9 cache: counts, unit conversions against QM9's printed labels, look-ups, extras."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl import units
from molmtl.data.qm9 import N_MOLECULES, RAW_KEYS, raw_to_targets
from molmtl.errors import NotFoundError
from molmtl.targets import TARGET_KEYS


def test_counts(qm9):
    assert len(qm9) == N_MOLECULES == 130_831
    assert qm9.targets.shape == (130_831, 19)
    assert qm9.n_atoms.max() == 29 and qm9.n_atoms.min() == 3
    assert set(np.unique(qm9.z)) == {1, 6, 7, 8, 9}
    assert np.all(np.diff(qm9.qm9_index) > 0)  # sorted by QM9 id, as PyG orders it
    assert np.isfinite(qm9.targets).all()


def test_methane_record(qm9):
    row = qm9.position_of_index(1)
    rec, raw = qm9.record(row), qm9.raw_record(row)
    assert raw["U0"] == pytest.approx(-40.47893, abs=1e-9)
    assert rec["U0"] == pytest.approx(-1101.49, abs=0.005)
    assert rec["U0"] == pytest.approx(-40.47893 * 27.211386246, rel=1e-12)
    # PyG's QM9 gives U0_atom = -17.1722 eV for methane
    assert rec["U0_atom"] == pytest.approx(-17.17, abs=0.005)
    assert rec["mu"] == 0.0
    assert rec["homo"] == pytest.approx(-0.3877 * units.HARTREE_TO_EV)
    assert rec["gap"] == pytest.approx(rec["lumo"] - rec["homo"], abs=1e-3)
    assert (rec["A"], rec["B"], rec["C"]) == pytest.approx((157.7118, 157.70997, 157.70699))
    mol = qm9.molecule(row)
    assert mol.formula == "CH4" and mol.qm9_index == 1


def test_atomization_uses_atom_references(qm9):
    row = qm9.position_of_index(14)  # ethanol, C2H6O
    rec, raw = qm9.record(row), qm9.raw_record(row)
    ref = 2 * units.ATOM_REFERENCE_HARTREE[6]["G"] + 6 * units.ATOM_REFERENCE_HARTREE[1]["G"] + units.ATOM_REFERENCE_HARTREE[8]["G"]
    assert rec["G_atom"] == pytest.approx((raw["G"] - ref) * units.HARTREE_TO_EV, rel=1e-12)
    # atomization energies are negative (bound molecules) for every molecule
    for key in ("U0_atom", "U_atom", "H_atom", "G_atom"):
        assert (qm9.targets[:, TARGET_KEYS.index(key)] < 0).all()


def test_raw_to_targets_is_pure():
    raw = np.zeros((1, len(RAW_KEYS)))
    raw[0, RAW_KEYS.index("U0")] = -0.5
    out = raw_to_targets(raw, np.array([1]), np.array([0, 1]))
    assert out[0, TARGET_KEYS.index("U0")] == pytest.approx(-0.5 * units.HARTREE_TO_EV)
    assert out[0, TARGET_KEYS.index("U0_atom")] == pytest.approx((-0.5 + 0.500273) * units.HARTREE_TO_EV)


def test_lookup_by_smiles_and_inchikey(qm9):
    from molmtl.chem.parse import from_smiles

    rows = qm9.find(from_smiles("OCC", embed=False))  # ethanol written differently
    assert int(qm9.qm9_index[rows[0]]) == 14
    row = qm9.position_of_index(14)
    assert qm9.rows_for_inchikey("LFQSCWFLJHTTHZ-UHFFFAOYSA-N")[0] == row
    assert qm9.find(from_smiles("CCCCCCCCCCCC", embed=False)) == []  # 12 heavy atoms: not in QM9


def test_missing_id(qm9):
    with pytest.raises(NotFoundError, match="QM9 has no molecule"):
        qm9.position_of_index(999_999)


def test_extras(qm9):
    ex = qm9.extras(qm9.position_of_index(1))
    assert ex["mulliken_charges"].sum() == pytest.approx(0.0, abs=1e-5)
    assert len(ex["frequencies_cm1"]) == 9  # 3N - 6 for methane
    assert ex["frequencies_cm1"][0] == pytest.approx(1341.307, abs=1e-3)
    assert np.trace(ex["polarizability_tensor"]) / 3 == pytest.approx(13.21, abs=2e-3)  # tensor printed to 1e-3


def test_subset_keeps_molecules(qm9):
    rows = np.array([5, 0, 100])
    sub = qm9.subset(rows)
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.targets, qm9.targets[rows])
    for i, r in enumerate(rows):
        z_a, p_a = sub.atoms(i)
        z_b, p_b = qm9.atoms(r)
        np.testing.assert_array_equal(z_a, z_b)
        np.testing.assert_allclose(p_a, p_b)


def test_lookup_ignores_stereo_that_qm9_does_not_record(qm9):
    from molmtl.chem.parse import from_smiles

    plain = qm9.find(from_smiles("CC(O)C#N", embed=False))  # lactonitrile; QM9's SMILES carry no stereo
    assert plain and qm9.find(from_smiles("C[C@H](O)C#N", embed=False)) == plain
    assert qm9.find(from_smiles("C[C@@H](O)C#N", embed=False)) == plain
    assert qm9.find(from_smiles("C[C@H](O)CC#N", embed=False)) != plain
