"""Every method through the one interface: check, estimate, run -> the one result schema."""

from __future__ import annotations

import json

import numpy as np
import pytest

from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import from_smiles, from_xyz_text
from molmtl.dft.store import ResultStore
from molmtl.errors import InputError, NotFoundError, UnsupportedMoleculeError
from molmtl.methods.registry import METHODS
from molmtl.methods.result import SCHEMA, MethodResult, in_energy_unit
from molmtl.targets import TARGET_KEYS

SMALL_DFT = {"basis": "sto-3g", "thermo": False, "polarizability": False, "optimize": False, "device": "cpu"}
H2 = Molecule(np.array([1, 1]), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]), name="H2", smiles="[H][H]", source="xyz")


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results.sqlite")


def _schema(result: MethodResult) -> dict:
    body = json.loads(json.dumps(result.to_json(), allow_nan=False))  # strict JSON
    assert body["schema"] == SCHEMA and body["schema_version"] == 1 and body["method"] == result.method
    assert set(body["properties"]) == set(body["units"]) == set(body["uncertainty"])
    assert body["geometry"]["source"] and len(body["geometry"]["positions_angstrom"]) == body["molecule"]["n_atoms"]
    assert body["wall_s"] > 0 and body["provenance"]["molmtl_version"]
    assert MethodResult.from_json(body).properties == body["properties"]
    return body


def test_the_four_methods_are_registered_with_their_options():
    assert set(METHODS.names()) == {"ml", "xtb", "dft", "qm9"}
    assert set(METHODS.options("dft")) >= {"optimize", "thermo", "polarizability", "device", "basis", "df_derivatives"}
    assert set(METHODS.options("xtb")) == {"optimize", "frequencies"} and "store" not in METHODS.options("xtb")
    with pytest.raises(InputError, match="unknown method 'gaussian'"):
        METHODS.build("gaussian")


def test_ml_on_a_qm9_molecule_with_its_labels_and_split_part(qm9):
    mol = qm9.molecule(qm9.position_of_index(4210))
    method = METHODS.build("ml", qm9=qm9)
    assert method.estimate_seconds(mol) < 1
    body = _schema(method.run(mol))
    assert list(body["properties"]) == list(TARGET_KEYS) and body["units"]["U0"] == "eV"
    assert body["qm9"]["index"] == 4210 and body["qm9"]["split_part"] == "test" and body["qm9"]["same_conformer"]
    assert abs(body["properties"]["U0"] - body["qm9"]["labels"]["U0"]) < 0.1  # eV
    assert body["provenance"]["model"].endswith("qm9-painn-hard-19.pt") and body["timings_s"]["inference"] > 0
    assert body["geometry"]["source"] == "QM9 (B3LYP/6-31G(2df,p))"


def test_ml_says_when_the_input_is_another_conformer_than_qm9s(qm9):
    eth = qm9.molecule(qm9.position_of_index(14))
    pos = eth.positions.copy()
    o, c = [i for i, z in enumerate(eth.atomic_numbers) if z == 8][0], 1
    h = int(np.argmin([np.linalg.norm(p - pos[o]) if z == 1 else 9 for p, z in zip(pos, eth.atomic_numbers)]))
    axis = (pos[o] - pos[c]) / np.linalg.norm(pos[o] - pos[c])
    v = pos[h] - pos[o]
    th = np.radians(120)  # turn the OH hydrogen: the gauche conformer
    pos[h] = pos[o] + v * np.cos(th) + np.cross(axis, v) * np.sin(th) + axis * axis.dot(v) * (1 - np.cos(th))
    gauche = from_xyz_text(Molecule(eth.atomic_numbers, pos).to_xyz(), name="gauche-ethanol")
    result = METHODS.build("ml", qm9=qm9).run(gauche)
    assert result.qm9["index"] == 14 and result.qm9["same_conformer"] is False and result.qm9["rmsd_angstrom"] > 0.3
    assert any("another conformer than QM9's" in w for w in result.warnings)


def test_ml_refuses_what_the_network_cannot_take_and_points_to_xtb():
    with pytest.raises(UnsupportedMoleculeError, match="contains Cl.*GFN2-xTB takes it"):
        METHODS.build("ml", lookup=False).run(from_smiles("Clc1ccccc1"))
    with pytest.raises(UnsupportedMoleculeError, match="only neutral"):
        METHODS.build("ml", lookup=False).run(from_smiles("[NH4+]"))


def test_ml_warns_about_several_fragments_in_a_geometry():
    two = from_xyz_text("6\nwater pair\nO 0 0 0\nH 0 0.76 0.59\nH 0 -0.76 0.59\nO 0 0 6\nH 0 0.76 6.59\nH 0 -0.76 6.59\n")
    result = METHODS.build("ml", lookup=False).run(two)
    assert any("2 fragments" in w for w in result.warnings)


def test_qm9_labels_method_and_a_molecule_outside_qm9(qm9):
    body = _schema(METHODS.build("qm9", qm9=qm9).run(from_smiles("CCO")))
    assert body["qm9"]["index"] == 14 and body["qm9"]["match"] == "InChIKey"
    assert body["properties"]["U0"] == pytest.approx(float(qm9.targets[qm9.position_of_index(14), TARGET_KEYS.index("U0")]))
    with pytest.raises(NotFoundError, match="not in QM9"):
        METHODS.build("qm9", qm9=qm9).run(from_smiles("CCCCCCCCCCC"))


def test_xtb_takes_chlorine_cations_and_radicals(store):
    xtb = METHODS.build("xtb", optimize=False, frequencies=False, store=store)
    chloro = _schema(xtb.run(from_smiles("Clc1ccccc1")))
    assert chloro["level_of_theory"] == "GFN2-xTB" and "U0_atom" not in chloro["properties"]
    assert -11 < chloro["properties"]["homo"] < -8  # eV
    cation = xtb.run(from_smiles("[NH4+]"))
    assert cation.molecule["charge"] == 1 and cation.properties["homo"] < chloro["properties"]["homo"]
    radical = xtb.run(from_smiles("[CH3]"))
    assert radical.molecule["multiplicity"] == 2 and np.isfinite(radical.properties["gap"])
    again = xtb.run(from_smiles("Clc1ccccc1"))
    assert again.provenance["cached"] and again.properties == chloro["properties"]  # the store: computed once


def test_xtb_refuses_elements_without_parameters_and_fragments(store):
    xtb = METHODS.build("xtb", optimize=False, frequencies=False, store=store)
    with pytest.raises(UnsupportedMoleculeError, match="contains Fr"):
        xtb.run(from_xyz_text("2\n\nFr 0 0 0\nH 0 0 2.3\n", multiplicity=1))
    two = from_xyz_text("2\nH2 far apart\nH 0 0 0\nH 0 0 1e9\n")
    with pytest.raises(InputError, match="2 fragments"):
        xtb.run(two)


def test_dft_through_the_store_on_h2_at_a_small_basis(store):
    dft = METHODS.build("dft", store=store, **SMALL_DFT)
    assert dft.basis_size(H2) == 2
    body = _schema(dft.run(H2))
    assert body["level_of_theory"].startswith("B3LYPG/sto-3g") and -0.7 < body["properties"]["homo"] / 27.2114 < -0.3
    assert body["provenance"]["store_key"] and body["provenance"]["cached"] is False
    assert any("not QM9's level" in w for w in body["warnings"])
    assert dft.run(H2).provenance["cached"] is True


@pytest.mark.slow
def test_dft_at_qm9s_level_on_methane_reproduces_its_labels(qm9, store):
    mol = qm9.molecule(qm9.position_of_index(1))
    result = METHODS.build("dft", optimize=False, store=store).run(mol)
    for key in ("homo", "lumo", "mu", "zpve", "U0"):
        label = float(qm9.targets[0, TARGET_KEYS.index(key)])
        assert result.properties[key] == pytest.approx(label, abs=2e-3), key


@pytest.mark.parametrize("name", ["ml", "xtb", "dft"])
def test_every_method_refuses_impossible_geometries(name, store):
    method = METHODS.build(name, **({"store": store} if name != "ml" else {"lookup": False}))
    coincident = Molecule(np.array([6, 8]), np.zeros((2, 3)), name="CO at one point", source="xyz")
    with pytest.raises(InputError, match=r"atoms 1 \(C\) and 2 \(O\) are 0.000 Angstrom apart"):
        method.run(coincident)
    nan = Molecule(np.array([6, 8]), np.array([[0.0, 0.0, 0.0], [np.nan, 0.0, 1.1]]), name="CO", source="xyz")
    with pytest.raises(InputError, match="not a finite number"):
        method.run(nan)
    n = method.max_atoms + 2  # hydrogens 1 Angstrom apart, an even electron count
    many = Molecule(np.ones(n, dtype=int), np.arange(3 * n, dtype=float).reshape(-1, 3), name="a long chain", source="xyz")
    with pytest.raises(InputError, match=f"takes at most {method.max_atoms}"):
        method.run(many)


def test_energies_in_another_unit_are_one_unit_per_result(qm9):
    result = METHODS.build("ml", qm9=qm9).run(qm9.molecule(qm9.position_of_index(4210)))
    mev = in_energy_unit(result, "meV")
    assert mev.units["U0"] == "meV" and mev.units["mu"] == "D"
    assert mev.properties["U0"] == pytest.approx(1000 * result.properties["U0"])
    assert mev.qm9["labels"]["homo"] == pytest.approx(1000 * result.qm9["labels"]["homo"])
    hartree = in_energy_unit(result, "Hartree")
    assert hartree.properties["homo"] == pytest.approx(result.properties["homo"] / 27.211386246)
    with pytest.raises(InputError, match="energy unit"):
        in_energy_unit(result, "kcal")


def test_dft_estimate_without_pyscf_uses_the_basis_functions_pyscf_builds():
    from molmtl.methods.estimate import QM9_BASIS_FUNCTIONS, dft_seconds, qm9_basis_size

    dft = METHODS.build("dft", store=None)
    ethanol = from_smiles("CCO", embed=True)
    assert qm9_basis_size(ethanol.atomic_numbers) == dft.basis_size(ethanol)
    for z, n in QM9_BASIS_FUNCTIONS.items():
        pair = Molecule(np.array([z, z]), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.2]]), source="xyz")
        assert dft.basis_size(pair) == 2 * n
    assert dft.estimate_seconds(ethanol) == pytest.approx(dft_seconds(qm9_basis_size(ethanol.atomic_numbers)))
    assert qm9_basis_size([6, 16]) is None  # sulfur: not in QM9's basis table
