"""``molmtl train`` calibrates its model; ``molmtl calibrate`` and ``molmtl evaluate --uncertainty``
write the calibration and its report; the calibration round-trips through a model file; bad
input is one sentence and exit code 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from molmtl.cli import main
from molmtl.inference import load_model, read_model_file
from molmtl.uncertainty.calibration import Calibration, calibration_of
from molmtl.uncertainty.data import split_outputs
from molmtl.uncertainty.store import write_calibration


def test_train_calibrates_the_model_it_writes(tiny_model):
    body = torch.load(tiny_model, map_location="cpu", weights_only=True)
    cal = Calibration.from_dict(body["uncertainty"])
    assert cal.method == "mlp" and cal.keys == ("U0", "homo", "mu") and cal.info["n_val"] == 60
    assert set(cal.distance_percentiles) == {50, 90, 99} and cal.median_sigma.shape == (3,)


def test_train_skips_calibration_without_a_validation_part_to_speak_of(tiny_args, tmp_path, capfd):
    args = [a if a != "300" else "24" for a in tiny_args]  # 16 validation molecules
    assert main(["train", *args, "--out", str(tmp_path / "run")]) == 0
    assert "uncertainty" not in read_model_file(tmp_path / "run" / "model.pt")
    # the CLI's own log handler writes to stderr (it replaces pytest's capture handler)
    assert "no uncertainty calibration: the validation part has 16 molecules" in capfd.readouterr().err


def test_the_calibration_round_trips_through_a_model_file(tiny_model, tmp_path):
    path = tmp_path / "model.pt"
    shutil.copy(tiny_model, path)
    model = load_model(path)
    cal = calibration_of(model)
    test = split_outputs(model, parts=("test",))["test"]
    write_calibration(path, None)
    assert "uncertainty" not in read_model_file(path) and calibration_of(load_model(path)) is None
    write_calibration(path, cal)
    before, after = read_model_file(tiny_model), read_model_file(path)
    assert set(before) == set(after)
    for key, value in before["strategy_state"].items():
        assert torch.equal(after["strategy_state"][key], value)
    again = calibration_of(load_model(path))
    np.testing.assert_allclose(again.sigma(test.preds, test.emb), cal.sigma(test.preds, test.emb), rtol=1e-6)
    np.testing.assert_allclose(again.distance(test.emb), cal.distance(test.emb), rtol=1e-6)
    assert again.distance_percentiles == cal.distance_percentiles


def test_calibrate_then_evaluate_uncertainty_write_the_report(tiny_model, tmp_path, capsys):
    path = tmp_path / "model.pt"
    shutil.copy(tiny_model, path)
    assert main(["calibrate", str(path), "--method", "local"]) == 0
    text = capsys.readouterr().out
    assert "90% interval covers" in text and f"written to {path}" in text
    assert calibration_of(load_model(path)).method == "local"
    # a quick look (--limit) reports and leaves the stored calibration alone
    assert main(["calibrate", str(path), "--method", "latent", "--limit", "20"]) == 0
    assert "not stored" in capsys.readouterr().out and calibration_of(load_model(path)).method == "local"
    out = tmp_path / "eval"
    assert main(["evaluate", str(path), "--uncertainty", "--out", str(out)]) == 0
    for name in ("uncertainty.md", "uncertainty.json", "uncertainty.png", "metrics.json"):
        assert (out / name).is_file(), name
    report = json.loads((out / "uncertainty.json").read_text())
    assert report["method"] == "local" and report["part"] == "test" and report["n_molecules"] == 60
    row = report["targets"][0]
    for key in ("coverage", "within_1_sigma", "spearman", "miscalibration_area", "nll", "mae_top10", "mae_rest", "ratio"):
        assert key in row, key
    assert set(row["coverage"]) == {"0.68", "0.9"} and row["unit"] == "meV"
    md = (out / "uncertainty.md").read_text()
    assert "| U0 * | meV | 60 |" in md and "Spearman rho" in md
    assert (out / "uncertainty.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, words", [
    (["calibrate", "/nonexistent/model.pt"], "model file not found"),
    (["calibrate", "MODEL", "--method", "ensemble"], "--method must be one of latent, local, mlp"),
    (["calibrate", "MODEL", "--geometry", "xyz"], "--geometry must be qm9 or rdkit"),
    (["calibrate", "MODEL", "--limit", "0"], "--limit must be a positive"),
    (["evaluate", "UNCALIBRATED", "--uncertainty"], "has no uncertainty calibration; run 'molmtl calibrate"),
    (["evaluate", "MODEL", "--uncertainty", "--data", "DATA"], "--uncertainty reports on a part of the model's own split"),
    (["evaluate", "MODEL", "--uncertainty", "--split-part", "val"], "--uncertainty reports on the test part"),
])
def test_bad_input_is_one_sentence_and_exit_code_2(tiny_model, tmp_path, capsys, args, words):
    uncalibrated = tmp_path / "uncalibrated.pt"
    shutil.copy(tiny_model, uncalibrated)
    write_calibration(uncalibrated, None)
    csv = tmp_path / "data.csv"
    csv.write_text("smiles,U0\nC,-40.0\n")
    names = {"MODEL": str(tiny_model), "UNCALIBRATED": str(uncalibrated), "DATA": str(csv)}
    assert main([names.get(a, a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1, err
