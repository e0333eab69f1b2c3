"""``molmtl blend``: a companion model's predictions blended into some outputs of a model, with
the weight of lowest validation MAE; the blended file predicts exactly the blend, and refuses
what would leak held-out molecules or mix vocabularies."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from molmtl.chem.parse import from_smiles
from molmtl.cli import main
from molmtl.inference import TrainedModel, blended, load_model, predict_molecules, read_model_file
from molmtl.training.blend import FADES, GRID, fit_blend

COMMON = ["--max-molecules", "300", "--batch-size", "32", "--epochs", "1", "--accelerator", "cpu", "--no-progress"]
MOLECULES = ["CCO", "c1ccncc1", "CC(=O)OC", "OCC#N", "FC(F)C=O"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny 3D model (U0, homo, mu), tiny 2D D-MPNNs for mu and for homo on the same split, and one on another."""
    root = tmp_path_factory.mktemp("blend")
    base = root / "painn"
    assert main(["train", "--encoder", "painn", "--hidden", "16", "--layers", "1", "--tasks", "U0,homo,mu", *COMMON,
                 "--out", str(base)]) == 0
    flat = root / "dmpnn"
    assert main(["train", "--encoder", "dmpnn", "--encoder-opt", "hidden=32", "--tasks", "mu", *COMMON,
                 "--out", str(flat)]) == 0
    orbital = root / "dmpnn-homo"
    assert main(["train", "--encoder", "dmpnn", "--encoder-opt", "hidden=32", "--tasks", "homo", *COMMON,
                 "--out", str(orbital)]) == 0
    other_split = root / "dmpnn-seed1"
    assert main(["train", "--encoder", "dmpnn", "--encoder-opt", "hidden=32", "--tasks", "mu", *COMMON,
                 "--split", "random:7", "--out", str(other_split)]) == 0
    return {"base": base / "model.pt", "flat": flat / "model.pt", "orbital": orbital / "model.pt",
            "other_split": other_split / "model.pt", "root": root}


def test_the_fitted_weight_gives_the_lowest_validation_mae(runs):
    model, companion = load_model(runs["base"]), load_model(runs["flat"])
    weights, fades, report = fit_blend(model, companion, ["mu"])
    row = report["keys"]["mu"]
    assert weights["mu"] in GRID and row["weight"] == weights["mu"]
    assert fades["mu"] in FADES and row["fade"] == fades["mu"]  # a 3D model's dipole norm: always a fade
    # the grid holds 0 (the model alone) and 1 (the companion alone): the blend is at least as good
    assert row["val_mae_blend"] <= min(row["val_mae_model"], row["val_mae_companion"]) + 1e-12
    assert report["n_val"] == 60 and row["unit"] == "D"


def test_a_blended_file_predicts_exactly_the_blend(runs, capsys):
    out = runs["root"] / "blended.pt"
    assert main(["blend", str(runs["base"]), str(runs["flat"]), "--keys", "mu", "--out", str(out)]) == 0
    shown = json.loads(capsys.readouterr().out.splitlines()[0])
    w, fade = shown["mu"]["weight"], shown["mu"]["fade"]
    body = read_model_file(out)
    assert body["format_version"] == 3 and body["companions"][0]["weights"] == {"mu": w}
    assert body["companions"][0]["fades"] == {"mu": fade} and fade > 0
    assert "uncertainty" not in body and body["metrics"]["blend"]["keys"]["mu"]["weight"] == w
    assert read_model_file(runs["base"])["format_version"] == 2  # no companions: readable by format-2 molmtl

    both, model, companion = load_model(out), load_model(runs["base"]), load_model(runs["flat"])
    assert both.needs_graph and both.needs_geometry and not model.needs_graph
    mols = [from_smiles(s) for s in MOLECULES]
    got = predict_molecules(both, mols)
    own = predict_molecules(model, mols)
    theirs = predict_molecules(companion, mols)
    mu = both.keys.index("mu")
    expected = blended(torch.from_numpy(own[:, mu]), torch.from_numpy(theirs[:, 0]), w, fade).numpy()
    np.testing.assert_allclose(got[:, mu], expected, rtol=1e-6, atol=1e-9)
    others = [i for i, k in enumerate(both.keys) if k != "mu"]
    np.testing.assert_allclose(got[:, others], own[:, others], rtol=1e-6)


def test_blend_weight_one_is_the_companion_and_zero_the_model(runs):
    model, companion = load_model(runs["base"]), load_model(runs["flat"])
    mols = [from_smiles(s) for s in MOLECULES]
    mu = model.keys.index("mu")
    for w, expected in ((0.0, predict_molecules(model, mols)[:, mu]), (1.0, predict_molecules(companion, mols)[:, 0])):
        mix = TrainedModel(model.strategy, model.scaler, model.config, model.info,
                           companions=[(companion, {"mu": w})]).eval()
        np.testing.assert_allclose(predict_molecules(mix, mols)[:, mu], expected, rtol=1e-6, atol=1e-9)


def test_the_blend_formula_linear_faded_and_clamped():
    own, theirs = torch.tensor([2.0, 0.0, 1e-6, 0.5]), torch.tensor([1.0, 0.7, 0.7, -0.3])
    # no fade: the plain weighted mean
    torch.testing.assert_close(blended(own, theirs, 0.25, 0.0), 0.75 * own + 0.25 * theirs)
    faded = blended(own, theirs, 0.9, 0.01)
    assert faded[0] == pytest.approx(0.1 * 2.0 + 0.9 * 1.0, rel=1e-4)  # a large norm: the companion's full share
    assert faded[1] == 0.0 and faded[2] < 1e-5  # a vanishing norm stays (close to) 0
    share = 0.9 * 0.25 / (0.25 + 0.01**2)
    assert faded[3] == pytest.approx((1 - share) * 0.5, rel=1e-6)  # a norm is >= 0: the companion's -0.3 counts as 0


def test_symmetric_molecules_keep_zero_debye_after_blending(runs):
    # the 2D companion cannot see that methane, benzene or CO2 have no dipole; the PaiNN's vector can
    model, companion = load_model(runs["base"]), load_model(runs["flat"])
    blend = TrainedModel(model.strategy, model.scaler, model.config, model.info,
                         companions=[(companion, {"mu": 0.9}, {"mu": 0.01})]).eval()
    mols = [from_smiles(s) for s in ("C", "c1ccccc1", "O=C=O")]
    mu = blend.keys.index("mu")
    assert np.abs(predict_molecules(blend, mols)[:, mu]).max() < 0.01
    assert np.abs(predict_molecules(companion, mols)[:, 0]).max() > 0.01  # what the fade protects against


def test_the_uncertainty_cache_key_sees_the_companion(runs):
    from molmtl.uncertainty.data import weights_digest

    model, companion = load_model(runs["base"]), load_model(runs["flat"])
    blended = TrainedModel(model.strategy, model.scaler, model.config, model.info, companions=[(companion, {"mu": 0.5})])
    other = TrainedModel(model.strategy, model.scaler, model.config, model.info, companions=[(companion, {"mu": 0.6})])
    assert len({weights_digest(model), weights_digest(blended), weights_digest(other)}) == 3


@pytest.mark.parametrize("case,pattern", [
    ("other_split", "different splits"),
    ("unknown_key", "must be a target of both models"),
    ("blended_again", "already blends mu from a companion"),
])
def test_blends_that_would_mislead_are_refused(runs, capsys, case, pattern):
    out = runs["root"] / f"bad-{case}.pt"
    if case == "other_split":
        args = [str(runs["base"]), str(runs["other_split"])]
    elif case == "unknown_key":
        args = [str(runs["base"]), str(runs["flat"]), "--keys", "homo"]
    else:
        first = runs["root"] / "first.pt"
        assert main(["-q", "blend", str(runs["base"]), str(runs["flat"]), "--out", str(first)]) == 0
        args = [str(first), str(runs["flat"])]
    capsys.readouterr()
    assert main(["blend", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and pattern in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_second_companion_blends_other_targets_and_both_blends_hold(runs, capsys):
    first, second = runs["root"] / "mu-blended.pt", runs["root"] / "mu-and-homo-blended.pt"
    assert main(["-q", "blend", str(runs["base"]), str(runs["flat"]), "--keys", "mu", "--out", str(first)]) == 0
    assert main(["-q", "blend", str(first), str(runs["orbital"]), "--keys", "homo", "--out", str(second)]) == 0
    capsys.readouterr()
    body = read_model_file(second)
    assert [list(c["weights"]) for c in body["companions"]] == [["mu"], ["homo"]]
    assert list(body["metrics"]["blend"]["keys"]) == ["mu"] and list(body["metrics"]["more_blends"][0]["keys"]) == ["homo"]
    both, model = load_model(second), load_model(runs["base"])
    mu_companion, homo_companion = load_model(runs["flat"]), load_model(runs["orbital"])
    (_, w_mu, fade_mu), (_, w_homo, _) = both.blends()
    mols = [from_smiles(s) for s in MOLECULES]
    got, own = predict_molecules(both, mols), predict_molecules(model, mols)
    mu, homo, u0 = (both.keys.index(k) for k in ("mu", "homo", "U0"))
    expected_mu = blended(torch.from_numpy(own[:, mu]), torch.from_numpy(predict_molecules(mu_companion, mols)[:, 0]),
                          w_mu["mu"], fade_mu["mu"]).numpy()
    expected_homo = (1 - w_homo["homo"]) * own[:, homo] + w_homo["homo"] * predict_molecules(homo_companion, mols)[:, 0]
    np.testing.assert_allclose(got[:, mu], expected_mu, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got[:, homo], expected_homo, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got[:, u0], own[:, u0], rtol=1e-6)


def test_fine_tuning_from_a_blended_file_is_refused(runs, capsys):
    first = runs["root"] / "for-init.pt"
    assert main(["-q", "blend", str(runs["base"]), str(runs["flat"]), "--out", str(first)]) == 0
    capsys.readouterr()
    assert main(["train", "--init-from", str(first), *COMMON, "--out", str(runs["root"] / "ft")]) == 2
    assert "blends in a companion model" in capsys.readouterr().err


def test_a_companion_with_other_elements_is_refused(runs):
    from molmtl.errors import InputError
    from molmtl.inference import check_companion

    model, companion = load_model(runs["base"]), load_model(runs["flat"])
    companion.config = companion.config.replace(elements=(1, 6, 7, 8, 9, 17))
    with pytest.raises(InputError, match="elements"):
        check_companion(model, companion, {"mu": 0.5})
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        check_companion(model, load_model(runs["flat"]), {"mu": 1.5})
    assert torch.is_tensor(next(model.parameters()))
