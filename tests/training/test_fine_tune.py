"""Fine-tuning (``molmtl train --init-from MODEL``): a run starts from a model file's weights and
target scaler, keeps its architecture, and records where it started."""

import logging

import pytest
import torch
from trainhelp import tiny_config

from molmtl.cli import main
from molmtl.data.splits import Split
from molmtl.errors import InputError
from molmtl.inference import load_model, read_model_file
from molmtl.training.run import train


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """A tiny trained model to start from."""
    out = tmp_path_factory.mktemp("first")
    return train(tiny_config(epochs=2, max_molecules=32, batch_size=8, lr=3e-3), out, progress=False)


def test_a_run_starts_from_the_models_weights_and_scaler(first, tmp_path):
    # a learning rate too small to move anything: the fine-tuned model is the one it started from,
    # so it has the same validation loss, and its scaler was taken over, not fitted again on its
    # own (smaller) training part
    cfg = tiny_config(epochs=1, max_molecules=16, batch_size=8, lr=1e-12, init_from=str(first.model_path))
    tuned = train(cfg, tmp_path, progress=False)
    start, body = read_model_file(first.model_path), read_model_file(tuned.model_path)
    for key, value in start["strategy_state"].items():
        torch.testing.assert_close(body["strategy_state"][key], value, rtol=0, atol=1e-7)
    for key, value in start["scaler_state"].items():
        torch.testing.assert_close(body["scaler_state"][key], value, rtol=0, atol=0)
    fresh = train(tiny_config(epochs=1, max_molecules=16, batch_size=8, lr=1e-12), tmp_path / "fresh", progress=False)
    fitted = read_model_file(fresh.model_path)["scaler_state"]
    assert any(not torch.equal(fitted[k], v) for k, v in start["scaler_state"].items())
    assert body["config"]["init_from"] == str(first.model_path)
    # both runs validate on the same 16 molecules (max_molecules keeps at least 16 of the part)
    assert tuned.metrics["val_loss"] == pytest.approx(first.metrics["val_loss"], rel=1e-5)
    assert load_model(tuned.model_path).keys == load_model(first.model_path).keys


def test_fine_tuning_lowers_the_loss_it_starts_from(first, tmp_path):
    # the same data as the first run: its validation loss is where the fine-tuned run starts
    cfg = tiny_config(epochs=3, max_molecules=32, batch_size=8, lr=3e-3, init_from=str(first.model_path))
    tuned = train(cfg, tmp_path, progress=False)
    assert tuned.metrics["val_loss"] < first.metrics["val_loss"]


def test_another_architecture_or_new_elements_are_refused(first, tmp_path):
    wider = tiny_config(encoder_hp={"hidden": 32, "num_layers": 1, "n_rbf": 8}, init_from=str(first.model_path))
    with pytest.raises(InputError, match="encoder_hp .* keeps its architecture"):
        train(wider, tmp_path / "wider", progress=False)
    fewer = tiny_config(tasks=("U0",), init_from=str(first.model_path))
    with pytest.raises(InputError, match="tasks"):
        train(fewer, tmp_path / "fewer", progress=False)
    chlorine = tiny_config(elements=(1, 6, 7, 8, 9, 17), init_from=str(first.model_path))
    with pytest.raises(InputError, match=r"elements \[17\] .* has no embedding for"):
        train(chlorine, tmp_path / "chlorine", progress=False)
    assert not any((tmp_path / d / "model.pt").exists() for d in ("wider", "fewer", "chlorine"))


def test_held_out_molecules_the_model_was_trained_on_are_warned_about(first, tmp_path, caplog):
    # a split file whose validation part is the first model's training part
    theirs = Split.load(first.out_dir / "split.json")
    swapped = Split("swapped", theirs.n, theirs.val, theirs.train, theirs.test).save(tmp_path / "swapped.json")
    cfg = tiny_config(epochs=1, batch_size=8, max_molecules=None, split=str(swapped), init_from=str(first.model_path))
    with caplog.at_level(logging.WARNING, logger="molmtl.training.finetune"):
        train(cfg, tmp_path / "other", progress=False)
    assert "32 of this run's 48 validation and test molecules were in the training part" in caplog.text
    caplog.clear()
    # the same split, cut shorter: no overlap, no warning
    with caplog.at_level(logging.WARNING, logger="molmtl.training.finetune"):
        train(tiny_config(epochs=1, max_molecules=16, batch_size=8, init_from=str(first.model_path)), tmp_path / "same",
              progress=False)
    assert "training part" not in caplog.text


def test_a_fine_tuning_run_resumes(first, tmp_path):
    cfg = tiny_config(epochs=2, max_molecules=16, batch_size=8, lr=3e-3, init_from=str(first.model_path))
    part = train(cfg, tmp_path, progress=False, time_limit=1e-3)
    assert part.metrics["epochs"] == 1
    whole = train(cfg, tmp_path, progress=False, resume=True)
    assert whole.metrics["epochs"] == 2
    assert read_model_file(whole.model_path)["config"]["init_from"] == str(first.model_path)


def test_cli_takes_the_models_architecture_and_split(first, tmp_path, capsys):
    args = ["train", "--init-from", str(first.out_dir), "--out", str(tmp_path / "tuned"), "--epochs", "1",
            "--max-molecules", "32", "--batch-size", "8", "--accelerator", "cpu", "--no-progress"]
    assert main(args) == 0
    body = read_model_file(tmp_path / "tuned" / "model.pt")
    start = read_model_file(first.model_path)
    for key in ("tasks", "encoder", "encoder_hp", "strategy", "split", "elements"):
        assert body["config"][key] == start["config"][key], key
    assert body["config"]["init_from"] == str(first.model_path.resolve())
    assert body["split"]["id"] == start["split"]["id"]


@pytest.mark.parametrize("extra, words", [
    (["--hidden", "32"], "--hidden cannot change it"),
    (["--tasks", "U0"], "--tasks cannot change it"),
    (["--protocol", "libmtl"], "--protocol cannot change it"),
    (["--resume"], "only --epochs"),
    (["--data", "CSV"], "trained on QM9 and this run is on a CSV"),
])
def test_cli_refuses_what_fine_tuning_cannot_do(first, tmp_path, capsys, extra, words):
    if "CSV" in extra:
        csv = tmp_path / "mols.csv"
        csv.write_text("smiles,U0\nCCO,-1.0\nCCN,-2.0\n")
        extra = [str(csv) if a == "CSV" else a for a in extra]
    out = tmp_path / "run"
    code = main(["train", "--init-from", str(first.model_path), "--out", str(out), "--accelerator", "cpu", *extra])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_cli_with_a_missing_model_exits_2(tmp_path, capsys):
    code = main(["train", "--init-from", str(tmp_path / "none.pt"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "not found" in err and len(err.strip().splitlines()) == 1
