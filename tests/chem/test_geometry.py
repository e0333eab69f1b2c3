"""Geometry sanity and the parsers, tried as a hostile user would: one sentence or a molecule,
never a traceback or a silent number."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molmtl.chem.geometry import check_geometry, fragment_note, fragments
from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import from_smiles, from_xyz_text
from molmtl.cli import main
from molmtl.errors import InputError, MolmtlError


def test_coincident_atoms_are_named_with_their_distance():
    mol = from_xyz_text("3\n\nC 0 0 0\nO 0 0 0.3\nH 1 0 0\n", name="bad")
    with pytest.raises(InputError, match=r"bad: atoms 1 \(C\) and 2 \(O\) are 0.300 Angstrom apart"):
        check_geometry(mol)


def test_atom_limits_and_missing_geometry():
    mol = Molecule(np.ones(4, int), np.arange(12.0).reshape(4, 3), name="H4")
    with pytest.raises(InputError, match="has 4 atoms; xtb takes at most 3"):
        check_geometry(mol, max_atoms=3, method="xtb")
    with pytest.raises(InputError, match="no 3D geometry"):
        check_geometry(Molecule(np.array([6])), method="xtb")


def test_fragments_are_covalent_contacts():
    water = "O 0 0 0\nH 0 0.76 0.59\nH 0 -0.76 0.59\n"
    one = from_xyz_text(f"3\n\n{water}")
    assert fragments(one) == [[0, 1, 2]] and fragment_note(one) is None
    far = from_xyz_text("2\n\nH 0 0 0\nH 0 0 1e9\n")
    assert len(fragments(far)) == 2 and "2 fragments" in fragment_note(far)
    salt = from_smiles("[Na+].[Cl-]", embed=False)
    assert salt.n_atoms == 2  # 2D: both kept; a 3D embedding of several fragments is refused
    with pytest.raises(InputError, match="2 fragments"):
        from_smiles("[Na+].[Cl-]")
    largest = from_smiles("CCO.O", largest_fragment=True)
    assert largest.formula == "C2H6O" and "only the largest, CCO" in largest.warnings[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["H", "C", "N", "O", "F", "Cl", "Xx", "6", "0"]),
                          st.floats(allow_nan=True, allow_infinity=True, width=32),
                          st.floats(min_value=-1e3, max_value=1e3), st.floats(min_value=-1e3, max_value=1e3)),
                min_size=1, max_size=6),
       st.integers(min_value=-2, max_value=8), st.booleans())
def test_any_xyz_text_is_a_molecule_or_one_sentence(atoms, count_offset, truncate):
    lines = [f"{s} {x} {y} {z}" for s, x, y, z in atoms]
    if truncate:
        lines = lines[:-1]
    text = f"{len(atoms) + count_offset}\ncomment\n" + "\n".join(lines) + "\n"
    try:
        mol = from_xyz_text(text, name="fuzz")
        check_geometry(mol)
    except MolmtlError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert np.isfinite(mol.positions).all() and mol.n_atoms == len(atoms) + count_offset


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="CNOFHcno()[]=#@+-123456789.~*/\\%: ", min_size=0, max_size=14))
def test_any_smiles_text_is_a_molecule_or_one_sentence(text):
    try:
        mol = from_smiles(text, embed=False)
    except MolmtlError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert mol.n_atoms >= 1 and mol.smiles is not None


@pytest.mark.parametrize("command", [["predict"], ["compare", "--methods", "ml,xtb"], ["dft", "xtb", "--no-opt", "--no-freq"],
                                     ["dft", "run", "--no-opt", "--no-thermo", "--no-polar", "--basis", "sto-3g"]])
@pytest.mark.parametrize("xyz, words", [
    ("2\n\nC 0 0 0\nO 0 0 0\n", "0.000 Angstrom apart"),
    ("2\n\nC 0 0 0\nO nan 0 1.1\n", "not a finite coordinate"),
    ("3\n\nC 0 0 0\nO 0 0 1.1\n", "fewer coordinate lines"),
    ("x\n\nC 0 0 0\n", "number of atoms"),
    ("1\n\nQq 0 0 0\n", "not a chemical element"),
])
def test_every_command_refuses_bad_geometry_files_in_one_line(tmp_path, capsys, command, xyz, words):
    path = tmp_path / "bad.xyz"
    path.write_text(xyz)
    args = [*command[:2], str(path), *command[2:]] if command[0] == "dft" else [command[0], str(path), *command[1:]]
    assert main(["-q", *args, *(["--store", str(tmp_path / "s.sqlite")] if command[0] != "predict" else [])]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("command", [["predict"], ["dft", "xtb", "--no-opt", "--no-freq"]])
def test_far_apart_atoms_and_a_broken_sdf(tmp_path, capsys, command):
    far = tmp_path / "far.xyz"
    far.write_text("2\nH2 pulled apart\nH 0 0 0\nH 0 0 1e9\n")
    store = ["--store", str(tmp_path / "s.sqlite")] if command[0] == "dft" else []
    code = main(["-q", *command[:2], str(far), *command[2:], *store] if command[0] == "dft" else ["-q", "predict", str(far)])
    captured = capsys.readouterr()
    if command[0] == "dft":  # xTB takes one molecule: refused
        assert code == 2 and "2 fragments" in captured.err
    else:  # the network predicts, and says why the numbers mean little
        assert code == 0 and "2 fragments" in captured.err
    sdf = tmp_path / "broken.sdf"
    sdf.write_text("not a molfile\n\n\n  3  2  0  0\nM  END\n$$$$\n")
    assert main(["-q", *command[:2], str(sdf)] if command[0] == "dft" else ["-q", "predict", str(sdf)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "SDF" in err, err
