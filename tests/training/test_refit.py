"""``molmtl refit``: retrain chosen heads on the frozen encoder, or fade an old dipole bias in."""

import json

import numpy as np
import pytest
import torch
from trainhelp import tiny_config

from molmtl.chem.parse import from_smiles
from molmtl.cli import main
from molmtl.inference import (
    load_model,
    molecule_dataset,
    predict_dataset,
    read_model_file,
)
from molmtl.training.run import train


@pytest.fixture(scope="module")
def old_style(tmp_path_factory):
    """A tiny trained model saved as before format 2: a bias after the dipole norm."""
    out = tmp_path_factory.mktemp("old")
    run = train(tiny_config(epochs=2, max_molecules=48, batch_size=8, lr=3e-3,
                            head_hp={"dipole_bias": True}), out, progress=False)
    body = read_model_file(run.model_path)
    body["format_version"] = 1
    body["config"]["head_hp"] = {}
    key = next(k for k in body["strategy_state"] if k.endswith("t_mu.bias"))
    body["strategy_state"][key] = torch.tensor(0.4)  # a large bias, as the SMILES model had
    path = out / "old.pt"
    torch.save(body, path)
    return path


def _mu(path, smiles="C"):
    model = load_model(path)
    return predict_dataset(model, molecule_dataset(model, [from_smiles(smiles, embed=True)]))[1][0, model.keys.index("mu")]


def test_refitting_the_dipole_head_removes_its_bias_and_leaves_other_heads_alone(old_style, tmp_path, capsys):
    assert _mu(old_style) > 0.1  # methane: the old bias
    out = tmp_path / "new.pt"
    assert main(["-q", "refit", str(old_style), "--heads", "mu", "--epochs", "2", "--lr", "3e-3", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    assert report["heads"] == ["mu"] and report["best_epoch"] in (1, 2)
    assert abs(_mu(out)) < 0.01  # no bias after the norm: methane's dipole vector vanishes
    new, old = read_model_file(out), torch.load(old_style, weights_only=True)
    assert new["format_version"] == 2 and "dipole_bias" not in new["config"]["head_hp"]
    for key, value in old["strategy_state"].items():  # the encoder and the other heads are untouched
        if ".t_mu." not in key:
            torch.testing.assert_close(new["strategy_state"][key], value, rtol=0, atol=0)
    assert new["metrics"]["refit"]["val_mae_after"]["mu"] <= 3 * new["metrics"]["refit"]["val_mae_before"]["mu"]


def test_fading_the_old_bias_keeps_it_for_large_dipoles_and_gives_zero_for_none(old_style, tmp_path, capsys):
    out = tmp_path / "faded.pt"
    assert main(["-q", "refit", str(old_style), "--fade-dipole-bias", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    body = read_model_file(out)
    width = body["config"]["head_hp"]["dipole_bias_width"]
    assert body["config"]["head_hp"]["dipole_bias"] is True and width == report["width"]
    maes = {float(w): v for w, v in report["val_mae"]["mu"].items()}
    assert maes[width] == min(maes.values())
    if width > 0:
        assert abs(_mu(out)) < 0.01
    # every other output is exactly as before
    old, new = load_model(old_style), load_model(out)
    mols = [from_smiles(s, embed=True) for s in ("CCO", "c1ccncc1")]
    a = predict_dataset(old, molecule_dataset(old, mols))[1]
    b = predict_dataset(new, molecule_dataset(new, mols))[1]
    others = [i for i, k in enumerate(old.keys) if k != "mu"]
    np.testing.assert_array_equal(a[:, others], b[:, others])


@pytest.mark.parametrize("args,words", [
    (["--heads", "nonsense"], "unknown target"),
    (["--heads", "gap"], "among the model's targets"),
    (["--geometry", "dft"], "--geometry must be qm9 or rdkit"),
    (["--epochs", "0"], "--epochs"),
])
def test_refit_refuses_bad_requests_in_one_sentence(old_style, tmp_path, capsys, args, words):
    assert main(["-q", "refit", str(old_style), "--out", str(tmp_path / "x.pt"), *args]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_fading_a_model_without_a_dipole_bias_is_refused(tmp_path, capsys):
    run = train(tiny_config(epochs=1, max_molecules=16, batch_size=8), tmp_path, progress=False)
    assert main(["-q", "refit", str(run.model_path), "--fade-dipole-bias", "--out", str(tmp_path / "x.pt")]) == 2
    assert "nothing to fade" in capsys.readouterr().err


def test_a_diverging_refit_fails_in_one_sentence_and_writes_nothing(old_style, tmp_path, capsys):
    out = tmp_path / "nan.pt"
    assert main(["-q", "refit", str(old_style), "--heads", "mu", "--epochs", "1", "--lr", "1e30", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "refitting diverged" in err and "--lr" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_shifted_dipole_normalization_is_refused(old_style, tmp_path, capsys):
    # a z-score normalization shifts mu by its mean: a norm (>= 0) could not get below it
    body = torch.load(old_style, weights_only=True)
    i = [t["key"] for t in body["targets"]].index("mu")
    body["scaler_state"]["shift"][i] = 2.7
    shifted = tmp_path / "shifted.pt"
    torch.save(body, shifted)
    assert main(["refit", str(shifted), "--heads", "mu", "--out", str(tmp_path / "x.pt")]) == 2
    assert "z-score normalization" in capsys.readouterr().err
