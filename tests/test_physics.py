"""Outputs that obey physics: H - U = kT, atomization = total - atom references, A/B/C from the
geometry, and 0 D for molecules whose symmetry forbids a dipole."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from molmtl import physics, units
from molmtl.chem.parse import from_smiles
from molmtl.chem.rotors import qm9_rotational_constants_ghz, rotational_constants_ghz
from molmtl.inference import load_model, molecule_dataset, predict_dataset
from molmtl.methods.ml import SHIPPED_MODEL, SHIPPED_SMILES_MODEL
from molmtl.targets import TARGET_KEYS

COL = {k: i for i, k in enumerate(TARGET_KEYS)}
ENERGIES = ("U0", "U", "H", "G")
#: Molecules of QM9's kinds and beyond it (sizes 1-16 heavy atoms, rings, ions excluded).
SMILES = ("C", "CCO", "c1ccccc1", "O=C=O", "C#N", "FC(F)(F)C(=O)O", "CC(C)(C)c1ccc(O)cc1", "OCC1OC(O)C(O)C(O)C1O")


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED_MODEL), load_model(SHIPPED_SMILES_MODEL)


def _predict(model, molecules):
    return predict_dataset(model, molecule_dataset(model, molecules))[1]


@pytest.fixture(scope="module")
def predictions(shipped, qm9):
    """The two shipped models' predictions: QM9 molecules at QM9's geometries, SMILES embedded."""
    from molmtl.data.inputs import read_molecule

    qm9_mols = [read_molecule(f"qm9:{i}", dataset=qm9) for i in (1, 2, 5, 100, 4210, 30001, 130000)]
    smiles_mols = [from_smiles(s, embed=True) for s in SMILES]
    return [(qm9_mols, _predict(shipped[0], qm9_mols)), (smiles_mols, _predict(shipped[1], smiles_mols))]


def test_enthalpy_minus_internal_energy_is_kT_for_every_prediction(predictions):
    for _, pred in predictions:
        np.testing.assert_allclose(pred[:, COL["H"]] - pred[:, COL["U"]], physics.KT_EV, atol=1e-9)
    assert physics.KT_EV == pytest.approx(0.025693, abs=1e-6)  # 298.15 K; QM9's H - U is 0.000944 Ha = 25.69 meV


def test_atomization_energies_are_totals_minus_atom_references_for_every_prediction(predictions):
    for mols, pred in predictions:
        for q in ENERGIES:
            refs = np.array([units.hartree_to_ev(units.atom_reference_hartree(m.atomic_numbers, q)) for m in mols])
            np.testing.assert_allclose(pred[:, COL[q]] - pred[:, COL[f"{q}_atom"]], refs, rtol=0, atol=1e-9)


def test_rotational_constants_are_the_input_geometry_s(predictions, qm9):
    for mols, pred in predictions:
        for m, row in zip(mols, pred):
            from molmtl.dft.properties import qm9_rotational_constants_ghz as dft_abc

            expected = dft_abc(m.atomic_numbers, m.positions_bohr)
            np.testing.assert_allclose(row[[COL["A"], COL["B"], COL["C"]]], expected, rtol=1e-6)  # float32 positions
    ethanol = predictions[1][1][SMILES.index("CCO")]
    assert ethanol[COL["A"]] == pytest.approx(33.3, abs=0.3)  # the MMFF geometry's, not the 20.2 GHz a head predicted


def test_rotational_constants_at_qm9_geometries_equal_qm9_labels(predictions, qm9):
    mols, pred = predictions[0]
    labels = np.array([qm9.targets[qm9.position_of_index(int(m.name.split(":")[1]))] for m in mols])
    abc = [COL["A"], COL["B"], COL["C"]]
    # QM9 stores six to seven significant digits; its "linear" molecules keep a huge finite A
    np.testing.assert_allclose(pred[1:, abc], labels[1:, abc], rtol=2e-4)


@pytest.mark.parametrize("smiles", ["C", "c1ccccc1", "O=C=O"])
def test_molecules_without_a_dipole_by_symmetry_get_zero_debye(shipped, smiles):
    mol = from_smiles(smiles, embed=True)
    for model in shipped:
        assert _predict(model, [mol])[0, COL["mu"]] == pytest.approx(0.0, abs=0.01)


def test_a_dipole_head_without_bias_gives_zero_for_a_symmetric_molecule_at_any_weights():
    """Untrained (random) weights: the equivariant vector of a Td molecule vanishes, and nothing is added."""
    from molmtl.config import TrainConfig
    from molmtl.inference import TrainedModel, build_strategy
    from molmtl.models.normalize import TargetScaler
    from molmtl.targets import resolve_tasks

    config = TrainConfig(tasks=("mu", "homo"), encoder_hp={"hidden": 16, "num_layers": 2})
    torch.manual_seed(3)
    strategy = build_strategy(config)
    for p in strategy.parameters():
        torch.nn.init.normal_(p, std=0.3)
    model = TrainedModel(strategy, TargetScaler(resolve_tasks(config.tasks)), config).eval()
    methane = from_smiles("C", embed=True)
    assert abs(_predict(model, [methane])[0, 0]) < 1e-3
    assert _predict(model, [from_smiles("CO", embed=True)])[0, 0] > 1e-3  # methanol has one


def test_model_files_before_format_2_keep_their_bias_after_the_norm(tmp_path):
    body = torch.load(SHIPPED_SMILES_MODEL, weights_only=True)
    body.pop("companions", None)  # the PaiNN's own dipole head, as an old file has it
    body["format_version"] = 1
    body["config"]["head_hp"] = {}
    bias_key = next(k for k in body["strategy_state"] if k.endswith("t_mu.bias"))
    body["strategy_state"][bias_key] = torch.tensor(0.1)
    path = tmp_path / "old.pt"
    torch.save(body, path)
    old = load_model(path)
    assert old.config.head_hp["dipole_bias"] is True
    mu = _predict(old, [from_smiles("C", embed=True)])[0, 0]
    assert mu == pytest.approx(0.1 * float(old.scaler.scale[0]), rel=0.05)  # the bias survives: methane is not 0 D


def test_a_csv_model_s_outputs_are_its_heads_own(shipped):
    # a CSV's columns named like QM9's (U0, A) may be another level of theory: no QM9 relations on them
    from molmtl.inference import TrainedModel

    b3lyp = shipped[0]
    as_csv = TrainedModel(b3lyp.strategy, b3lyp.scaler, b3lyp.config.replace(data="my.csv"), b3lyp.info)
    raw = TrainedModel(b3lyp.strategy, b3lyp.scaler, b3lyp.config, b3lyp.info, relations=False)
    mols = [from_smiles(s, embed=True) for s in ("CCO", "c1ccncc1")]
    assert not as_csv.relations and as_csv.derived() == {}
    np.testing.assert_array_equal(_predict(as_csv, mols), _predict(raw, mols))
    assert not np.allclose(_predict(b3lyp, mols)[:, COL["A"]], _predict(raw, mols)[:, COL["A"]])


def test_consistent_energies_use_what_is_given_and_leave_unknown_references_alone():
    refs = {q: np.array([-100.0, np.nan]) for q in ENERGIES}
    out = physics.consistent_energies({"U0": np.array([-101.0, -5.0]), "U0_atom": np.array([-1.2, -3.0])}, refs)
    assert out["U0"][0] == pytest.approx(-101.1)  # mean of -101 and -1.2 + (-100)
    assert out["U0_atom"][0] == pytest.approx(-1.1)
    assert out["U0"][1] == -5.0 and np.isnan(out["U0_atom"][1])  # no atom energy for its element
    # no U0 at all (LibMTL's targets): the atomization energies are still thermally consistent
    atoms = {f"{q}_atom": np.array([-1.0, -1.0]) + i * 0.01 for i, q in enumerate(ENERGIES)}
    out = physics.consistent_energies(atoms, {q: np.array([-100.0, -100.0]) for q in ENERGIES})
    h_minus_u = (out["H_atom"] + -100.0) - (out["U_atom"] + -100.0)
    np.testing.assert_allclose(h_minus_u, physics.KT_EV)


def test_derived_keys_name_only_outputs_that_are_computed():
    assert set(physics.derived_keys(TARGET_KEYS, has_positions=True)) == {"A", "B", "C", *ENERGIES,
                                                                          *(f"{q}_atom" for q in ENERGIES)}
    assert "A" not in physics.derived_keys(TARGET_KEYS, has_positions=False)
    assert physics.derived_keys(["U0", "homo"], has_positions=True) == {}


def test_rotational_constants_of_linear_and_single_atom_molecules():
    co2 = np.array([[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]])
    masses = np.array([15.995, 12.0, 15.995])
    a, b, c = qm9_rotational_constants_ghz(masses, co2)
    assert a == 0.0 and b == pytest.approx(c) and b == pytest.approx(11.7, rel=0.02)  # CO2's B: 0.39 cm^-1
    assert np.all(qm9_rotational_constants_ghz(np.array([12.0]), np.zeros((1, 3))) == 0.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10_000), st.integers(0, 4))
def test_rotational_constants_ignore_rotation_translation_and_padding(n, seed, pad):
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(n, 3)) * 1.5
    masses = rng.uniform(1, 19, size=n)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    moved = pos @ q.T + rng.normal(size=3) * 10
    padded_m = np.concatenate([masses, np.zeros(pad)])
    padded_r = np.concatenate([moved, rng.normal(size=(pad, 3))])
    ref = rotational_constants_ghz(masses, pos)
    np.testing.assert_allclose(rotational_constants_ghz(padded_m, padded_r), ref, rtol=1e-6)
    assert ref[0] >= ref[1] >= ref[2] > 0
