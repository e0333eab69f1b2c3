"""Molecule input: SMILES, XYZ, SDF/MOL, QM9 ids, and their error messages."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.chem.parse import from_smiles, from_xyz_text, parse_qm9_id
from molmtl.data.inputs import read_molecule
from molmtl.errors import InputError, NotFoundError

WATER_XYZ = """3
water
O  0.000000  0.000000  0.117300
H  0.000000  0.757200 -0.469200
H  0.000000 -0.757200 -0.469200
"""


def test_smiles_embedding_is_deterministic():
    a, b = from_smiles("CC(=O)O"), from_smiles("CC(=O)O")
    assert a.formula == "C2H4O2" and a.n_atoms == 8 and a.n_heavy_atoms == 4
    np.testing.assert_array_equal(a.positions, b.positions)
    # MMFF geometry: C=O about 1.21 A, C-O about 1.35 A
    d = np.linalg.norm(a.positions[1] - a.positions[2])
    assert 1.18 < d < 1.25
    assert a.charge == 0 and a.multiplicity == 1 and a.smiles == "CC(=O)O"


def test_smiles_without_geometry():
    m = from_smiles("c1ccccc1", embed=False)
    assert m.positions is None and m.formula == "C6H6"


@pytest.mark.parametrize("bad, match", [("C1CC", "not a valid SMILES"), ("C(C)(C)(C)(C)C", "valence"), ("", "empty"), ("XYZ_THAT_DOES_NOT_EXIST", "not a valid SMILES")])
def test_invalid_smiles(bad, match):
    with pytest.raises(InputError, match=match):
        read_molecule(bad) if bad else from_smiles(bad)


def test_charged_and_radical_smiles():
    assert from_smiles("[NH4+]", embed=False).charge == 1
    assert from_smiles("[CH3]", embed=False).multiplicity == 2


def test_xyz_text_and_qm9_exponents():
    m = from_xyz_text(WATER_XYZ, name="water")
    assert m.formula == "H2O" and m.smiles == "O" and m.source == "xyz"
    assert m.positions[1, 1] == pytest.approx(0.7572)
    qm9_style = WATER_XYZ.replace("0.117300", "1.173*^-1")
    assert from_xyz_text(qm9_style).positions[0, 2] == pytest.approx(0.1173)
    assert from_xyz_text(WATER_XYZ + "\n").n_atoms == 3


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty XYZ"),
        ("three\n\nO 0 0 0\n", "number of atoms"),
        ("3\nc\nO 0 0 0\nH 0 0 1\n", "fewer coordinate lines"),
        ("1\nc\nO 0 0\n", "expected 'symbol x y z'"),
        ("1\nc\nQq 0 0 0\n", "not a chemical element"),
        ("1\nc\nO 0 zero 0\n", "'zero' is not a number"),
        ("1\nc\nO 0 nan 0\n", "'nan' is not a finite coordinate"),
    ],
)
def test_malformed_xyz(text, match):
    with pytest.raises(InputError, match=match):
        from_xyz_text(text)


def test_read_files(tmp_path):
    (tmp_path / "w.xyz").write_text(WATER_XYZ)
    assert read_molecule(str(tmp_path / "w.xyz")).formula == "H2O"
    from rdkit import Chem
    from rdkit.Chem import AllChem

    rd = Chem.AddHs(Chem.MolFromSmiles("CO"))
    AllChem.EmbedMolecule(rd, randomSeed=1)
    Chem.MolToMolFile(rd, str(tmp_path / "m.mol"))
    m = read_molecule(str(tmp_path / "m.mol"))
    assert m.formula == "CH4O" and m.positions.shape == (6, 3)
    with pytest.raises(NotFoundError, match="file not found"):
        read_molecule(str(tmp_path / "missing.xyz"))
    (tmp_path / "empty.sdf").write_text("garbage\n")
    with pytest.raises(InputError, match="no valid molecule"):
        read_molecule(str(tmp_path / "empty.sdf"))
    (tmp_path / "x.pdb").write_text("")
    with pytest.raises(InputError, match="unsupported file type"):
        read_molecule(str(tmp_path / "x.pdb"))


def test_qm9_ids(qm9):
    assert [parse_qm9_id(s) for s in ("1", "qm9:1", "gdb_1", "dsgdb9nsd_000001", "CCO")] == [1, 1, 1, 1, None]
    m = read_molecule("qm9:14", dataset=qm9)
    assert m.formula == "C2H6O" and m.qm9_index == 14 and m.source == "qm9"
    for bad in ("qm9:abc", "QM9:", "qm9:-3"):
        with pytest.raises(InputError, match="is not a QM9 id"):
            read_molecule(bad, dataset=qm9)


def test_outside_qm9_domain_warns():
    m = read_molecule("CCCCCCCCCCC", embed=False)  # 11 heavy atoms
    assert m.warnings and "11 heavy atoms" in m.warnings[0]
    assert read_molecule("CCO", embed=False).warnings == ()


def test_stereo_smiles_with_slashes_is_not_a_path(tmp_path):
    m = read_molecule("F/C=C/F", embed=False)
    assert m.source == "smiles" and m.formula == "C2H2F2" and m.smiles == "F/C=C/F"
    assert read_molecule(r"Cl\C=C\Cl".replace("Cl", "F"), embed=False).formula == "C2H2F2"
    with pytest.raises(NotFoundError, match="file not found"):
        read_molecule(str(tmp_path / "no" / "such"))
    with pytest.raises(NotFoundError, match="file not found"):
        read_molecule(str(tmp_path / "missing.xyz"))


def test_isotope_labels_are_not_dropped_silently():
    m = read_molecule("[2H]O[2H]", embed=False)
    assert m.formula == "H2O" and any("isotope labels (2H)" in w for w in m.warnings)
    assert read_molecule("O", embed=False).warnings == ()
    outside = read_molecule("[13CH3][Si](C)C", embed=False)  # both kinds of warning are kept
    assert any("isotope" in w for w in outside.warnings) and any("Si" in w for w in outside.warnings)
