"""``molmtl train`` / ``evaluate`` / ``sweep-lambda`` through ``molmtl.cli.main``."""

import json

import numpy as np
import pytest
import torch

from molmtl.cli import main
from molmtl.models.registry import ENCODERS
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

BALANCERS = WEIGHTINGS.names()

TINY = ["--encoder", "painn", "--hidden", "16", "--layers", "1", "--tasks", "U0,homo", "--max-molecules", "24",
        "--batch-size", "12", "--accelerator", "cpu", "--no-progress"]


def test_train_help_lists_every_registry_name(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for name in (*ENCODERS, *STRATEGIES, *BALANCERS):
        assert name in text, name
    assert main(["sweep-lambda", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in (*ENCODERS, *BALANCERS)) and "{" not in text


@pytest.mark.parametrize("args, words", [
    (["--encoder", "schnet"], "unknown encoder"),
    (["--strategy", "magic"], "unknown strategy"),
    (["--weighting", "fair"], "unknown weighting"),
    (["--config", "/nonexistent/run.toml"], "config file not found"),
    (["--tasks", "U0,energy"], "unknown target"),
    (["--epochs", "0"], "epochs must be a positive"),
    (["--data", "/nonexistent/mols.csv"], "not found"),
    (["--split", "/nonexistent/split.json"], "not found"),
    (["--strategy", "clustered", "--groups", "/nonexistent/groups.json"], "not found"),
    (["--strategy", "single", "--lambda", "0.1"], "has no option"),
    (["--accelerator", "foo"], "accelerator must be one of"),
    (["--devices", "x"], "devices must be"),
    (["--weight-decay", "-1"], "weight decay"),
    (["--seed", "-5"], "seed must be"),
    (["--early-stopping", "-1"], "early-stopping"),
    (["--precision", "bf16-true"], "precision must be one of"),
    (["--hidden", "0"], "hidden must be a positive number"),
    (["--encoder", "painn", "--cutoff", "-1"], "cutoff must be a positive number"),
    (["--encoder", "painn", "--message", "scatter"], "option 'message' takes one of bmm, elementwise, basis"),
    (["--encoder", "gcn", "--message", "bmm"], "--message does not apply to it"),
    (["--encoder-opt", "hidden=abc"], "option 'hidden' takes int"),
    (["--encoder-opt", "hiden=8"], "has no option 'hiden'; its options are: hidden"),
    (["--head-opt", "set2sett=true"], "has no option 'set2sett'"),
    (["--weighting", "famo", "--weighting-opt", "lr=-1"], "famo needs lr > 0"),
    (["--weighting-opt", "temperature"], "KEY=VALUE"),
    (["--trim-to", "8"], "--device-data"),
    (["--task-weights", "U0:2"], "KEY=WEIGHT"),
    (["--tasks", "U0,homo", "--task-weights", "gap=2"], "not one of this run's tasks"),
    (["--task-weights", "HOMO=-1"], "finite numbers >= 0"),
    (["--device-data", "--trim-to", "-8"], "trim_to (--trim-to) must be"),
    (["--ema", "1"], "EMA decay must be"),
    (["--split-sizes", "0.8,0.3,0.1"], "add up to 1"),
    (["--split-sizes", "0.9,0.2"], "exceed 1"),
    (["--split-sizes", "a,b"], "TRAIN,VAL[,TEST]"),
    (["--split-sizes", "100,10,5"], "the test part is the rest"),
    (["--split-sizes", "0.8"], "TRAIN,VAL[,TEST]"),
    (["--schedule", "plateau", "--plateau-factor", "1.5"], "between 0 and 1"),
    (["--warmup-epochs", "-1"], "warm-up length"),
    (["--warmup-epochs", "nan"], "warm-up length"),
    (["--schedule", "plateau", "--plateau-patience", "-1"], "plateau patience"),
    (["--ema", "nan"], "EMA decay must be"),
])
def test_train_bad_input_exits_2_with_one_line(tmp_path, capsys, args, words):
    # --dry-run: a check that let a value through prints the config instead of starting a run
    assert main(["-q", "train", "--out", str(tmp_path / "run"), "--dry-run", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_accelerator_without_gpu_exits_2(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), *TINY[:-3], "--accelerator", "gpu", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "CUDA" in err, err


def test_csv_with_an_element_outside_the_models_exits_2(tmp_path, capsys):
    # Cl is one of the elements a CSV model may hold (ML_ELEMENTS); germanium is not
    lines = ["smiles,homo"] + [f"{s},{-7 + 0.01 * i}" for i, s in enumerate(["CCO", "CCCl", "CCN", "CO", "C[Ge](C)(C)C"] * 8)]
    (tmp_path / "mols.csv").write_text("\n".join(lines) + "\n")
    args = ["--data", str(tmp_path / "mols.csv"), "--encoder", "gcn", "--hidden", "8", "--epochs", "1",
            "--accelerator", "cpu", "--no-progress"]
    assert main(["-q", "train", "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "contains Ge" in err, err


def test_csv_with_its_own_smiles_column_text_columns_and_task_names(tmp_path, capsys):
    """A TDC-style file: SMILES under 'Drug', a text column, a user's target picked by --tasks."""
    lines = ["Drug,logS [log mol/L],source"] + [f"{s},{0.1 * i:.2f},lab {i % 3}" for i, s in
                                                enumerate(["CCO", "CCCl", "CCN", "CO", "CC(=O)O", "OCCO"] * 6)]
    (tmp_path / "tdc.csv").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "tdc.csv"), "--encoder", "gcn", "--hidden", "8", "--layers", "1", "--epochs", "1",
            "--accelerator", "cpu", "--no-progress"]
    assert main(["-q", "train", "--out", str(run), *args, "--tasks", "logS", "--smiles-column", "Drug"]) == 0
    assert "test MAE     logS" in capsys.readouterr().out
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["tasks"] == ["logS"] and cfg["smiles_column"] == "Drug" and cfg["elements"] == [1, 6, 7, 8, 9, 17]
    assert main(["-q", "evaluate", str(run), "--out", str(tmp_path / "ev")]) == 0  # the config finds the column again
    for extra, words in ((["--tasks", "logS"], "no SMILES column"), (["--smiles-column", "Drug"], "leave it out with --tasks"),
                         (["--smiles-column", "Drug", "--tasks", "U0"], "has no target column 'U0'")):
        assert main(["-q", "train", "--out", str(tmp_path / "bad"), *args, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err
    assert main(["-q", "train", "--out", str(tmp_path / "q"), "--smiles-column", "Drug"]) == 2
    assert "QM9 runs have none" in capsys.readouterr().err
    # chemprop-style split fractions: 36 molecules -> 21 / 7 / 8 (fractions round down; the test part is the rest)
    assert main(["-q", "train", "--out", str(tmp_path / "f"), *args, "--tasks", "logS", "--smiles-column", "Drug",
                 "--split-sizes", "0.6,0.2,0.2"]) == 0
    split = json.loads((tmp_path / "f" / "split.json").read_text())
    assert [len(split[k]) for k in ("train", "val", "test")] == [21, 7, 8]
    assert json.loads((tmp_path / "f" / "config.json").read_text())["split_sizes"] == [0.6, 0.2]
    (tmp_path / "bare.csv").write_text("id,smiles\na,CCO\nb,CCN\n")
    for extra in ([], ["--tasks", "logS"]):
        assert main(["-q", "train", "--out", str(tmp_path / "b"), "--data", str(tmp_path / "bare.csv"), *extra]) == 2
        assert "has no target column besides its SMILES" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--early-stopping", "5"], ["--protocol", "libmtl"], ["--compile"], ["--device-data"],
                                  ["--trim-to", "8"], ["--message", "elementwise"], ["--ema", "0.99"]])
def test_resume_refuses_options_it_would_ignore(tmp_path, capsys, flag):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert main(["train", "--out", str(run), "--resume", *flag]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and flag[0] in err, err


def test_resume_with_a_broken_config_exits_2(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    for text in ("{not json", "[1, 2]"):
        (run / "config.json").write_text(text)
        assert main(["train", "--out", str(run), "--resume"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1 and "config" in err, err


def test_resume_without_run_and_missing_model(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert main(["evaluate", str(tmp_path / "missing.pt")]) == 2
    assert main(["train", "--out", str(tmp_path / "none"), "--resume", "--lr", "0.1"]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 3 and "--lr" in errs[2] and all(e.startswith("error:") for e in errs)


def test_train_then_evaluate_with_delta_m(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--epochs", "1", *TINY]) == 0
    assert (run / "model.pt").is_file()
    stl = tmp_path / "stl.json"
    stl.write_text(json.dumps({"U0": 100.0, "homo": 200.0}))
    assert main(["evaluate", str(run / "model.pt"), "--stl-json", str(stl), "--out", str(tmp_path / "ev")]) == 0
    body = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert [r["key"] for r in body["targets"]] == ["U0", "homo"] and body["part"] == "test"
    # the MAE the command reports equals a direct computation on the same molecules
    from molmtl.inference import load_model, predict_dataset
    from molmtl.training.data import load_training_data

    model = load_model(run)
    data = load_training_data(model.config, graph=False, geometry=True)
    y, p = predict_dataset(model, data.test)
    direct = np.abs(p - y).mean(0) * 1000.0  # eV -> meV
    np.testing.assert_allclose([r["mae"] for r in body["targets"]], direct, rtol=1e-9)
    expected = ((direct[0] - 100) / 100 + (direct[1] - 200) / 200) / 2 * 100
    assert body["delta_m_percent"] == pytest.approx(expected)
    md = (tmp_path / "ev" / "metrics.md").read_text()
    assert "MAE [unit]" in md and "| U0 | meV |" in md
    assert (tmp_path / "ev" / "parity.png").stat().st_size > 1000
    # against its own stored test metrics (--stl-dir reads model.pt) Delta_m is exactly 0
    assert main(["evaluate", str(run), "--stl-dir", str(run), "--out", str(tmp_path / "self")]) == 0
    assert json.loads((tmp_path / "self" / "metrics.json").read_text())["delta_m_percent"] == pytest.approx(0.0, abs=1e-9)
    # on the validation part the STL run's validation MAEs are the reference, not its test MAEs
    assert main(["evaluate", str(run), "--split-part", "val", "--stl-dir", str(run), "--out", str(tmp_path / "v")]) == 0
    assert json.loads((tmp_path / "v" / "metrics.json").read_text())["delta_m_percent"] == pytest.approx(0.0, abs=1e-9)
    assert main(["evaluate", str(run), "--split-part", "val", "--stl-json", "libmtl"]) == 2
    # resume one more epoch from the last checkpoint
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert "model written" in capsys.readouterr().out


def test_sweep_lambda(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep-lambda", "--out", str(out), "--lambdas", "0.01,1", "--epochs", "1", *TINY]) == 0
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0] == "lambda [-],total val l1 [-],U0 val l1 [-],homo val l1 [-]" and len(lines) == 3
    assert float(lines[1].split(",")[0]) == 0.01
    assert (out / "sweep.png").is_file() and "| lambda [-] |" in (out / "sweep.md").read_text()
    # run again with one more lambda: the finished runs are kept (same files, same rows), one is new
    kept = (out / "lam_0.01" / "model.pt").stat().st_mtime_ns
    assert main(["sweep-lambda", "--out", str(out), "--lambdas", "0.01,1,10", "--epochs", "1", *TINY]) == 0
    again = (out / "sweep.csv").read_text().splitlines()
    assert again[:3] == lines and len(again) == 4 and (out / "lam_0.01" / "model.pt").stat().st_mtime_ns == kept
    # an interrupted lambda (a last checkpoint, no model file) and a longer sweep resume from the checkpoints
    (out / "lam_10" / "model.pt").unlink()
    capsys.readouterr()
    assert main(["sweep-lambda", "--out", str(out), "--lambdas", "1,10", "--epochs", "2", *TINY]) == 0
    err = capsys.readouterr().err
    assert "lambda = 1: resuming" in err and "lambda = 10: resuming" in err
    for lam in ("1", "10"):  # 2 epochs of 2 batches, the first epoch's from the first sweeps
        assert torch.load(out / f"lam_{lam}" / "model.pt", weights_only=False)["metrics"]["global_step"] == 4
    assert main(["-q", "sweep-lambda", "--out", str(out), "--lambdas", "10", "--epochs", "2", "--seed", "1", *TINY]) == 2
    assert "another configuration" in capsys.readouterr().err


def test_an_earlier_run_is_kept_unless_overwrite(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--epochs", "1", *TINY]) == 0
    before = (run / "model.pt").read_bytes()
    capsys.readouterr()
    assert main(["-q", "train", "--out", str(run), "--epochs", "1", "--seed", "3", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "--overwrite" in err and "--resume" in err
    assert (run / "model.pt").read_bytes() == before and json.loads((run / "config.json").read_text())["seed"] == 0
    assert main(["-q", "train", "--out", str(run), "--resume", "--overwrite"]) == 2
    # an --overwrite that fails before training (here: a bad SMILES in its data) leaves the earlier run as it was
    (tmp_path / "bad.csv").write_text("smiles,U0\nCCO,1\nC1CC,2\n")
    assert main(["-q", "train", "--out", str(run), "--overwrite", "--data", str(tmp_path / "bad.csv"), "--encoder",
                 "gcn", "--epochs", "1", "--accelerator", "cpu"]) == 2
    assert "invalid SMILES" in capsys.readouterr().err
    assert (run / "model.pt").read_bytes() == before and (run / "checkpoints" / "last.ckpt").is_file()
    assert main(["-q", "train", "--out", str(run), "--epochs", "1", "--seed", "3", "--overwrite", *TINY]) == 0
    assert (run / "model.pt").read_bytes() != before and json.loads((run / "config.json").read_text())["seed"] == 3


def test_libmtl_protocol_tiny_run(tmp_path, capsys):
    """The LibMTL preset (MPNN + Set2Set heads, z-scored targets, plateau schedule) end to end."""
    run = tmp_path / "libmtl"
    assert main(["train", "--protocol", "libmtl", "--out", str(run), "--epochs", "2", "--max-molecules", "24",
                 "--hidden", "16", "--accelerator", "cpu", "--no-progress"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["encoder"] == "mpnn" and cfg["head_hp"] == {"set2set": True} and cfg["normalization"] == "zscore"
    assert cfg["schedule"] == "plateau" and len(cfg["tasks"]) == 11 and cfg["split_sizes"] == [110831, 10000]
    assert main(["evaluate", str(run), "--stl-json", "libmtl"]) == 0
    body = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert len(body["delta_m_per_task_percent"]) == 11 and "Delta_m vs STL" in capsys.readouterr().out


def test_protocol_encoder_name_is_case_insensitive():
    """``--protocol libmtl --encoder MPNN`` is the protocol's own encoder: its widths and Set2Set heads stay."""
    from molmtl.cli.options import build_config

    cfg = build_config("libmtl", values={"encoder": "MPNN"})
    assert cfg.encoder == "mpnn" and cfg.head_hp == {"set2set": True} and cfg.encoder_hp["aggr"] == "mean"


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["-q", "train", "--out", str(blocker / "run"), "--epochs", "1", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and str(blocker) in err, err
    run = tmp_path / "run"
    assert main(["-q", "train", "--out", str(run), "--epochs", "1", *TINY]) == 0
    capsys.readouterr()
    assert main(["-q", "evaluate", str(run), "--out", str(blocker / "ev")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err


def test_sweep_on_a_csv_with_chlorine_is_kept_on_a_rerun(tmp_path, capsys):
    """The saved configs hold the elements the CSV added (Cl); a rerun still recognizes its runs."""
    lines = ["smiles,logS"] + [f"{s},{0.1 * i:.2f}" for i, s in enumerate(["CCO", "CCCl", "CCN", "CO"] * 6)]
    (tmp_path / "cl.csv").write_text("\n".join(lines) + "\n")
    args = ["sweep-lambda", "--out", str(tmp_path / "sw"), "--data", str(tmp_path / "cl.csv"), "--encoder", "gcn",
            "--hidden", "8", "--layers", "1", "--epochs", "1", "--lambdas", "0.1,1", "--accelerator", "cpu"]
    assert main(args) == 0
    first = (tmp_path / "sw" / "sweep.csv").read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().err.count("finished earlier, kept") == 2
    assert (tmp_path / "sw" / "sweep.csv").read_text() == first


def test_evaluate_on_a_labelled_csv(tmp_path, capsys):
    """``evaluate --data``: an external test set's labels (units in brackets), molecules the model
    cannot take skipped with their reasons, Delta_m against an STL model on the same file."""
    import csv

    from molmtl.data.qm9 import load_qm9
    from molmtl.inference import load_model, predict_smiles

    run = tmp_path / "run"
    assert main(["-q", "train", "--out", str(run), "--encoder", "gcn", "--hidden", "16", "--layers", "1",
                 "--tasks", "U0,homo,mu", "--max-molecules", "32", "--epochs", "1", "--no-progress"]) == 0
    qm9 = load_qm9()
    rows = list(range(1000, 1012))
    from molmtl.targets import TARGET_KEYS

    homo = qm9.targets[rows, TARGET_KEYS.index("homo")]  # registry units: eV
    mu = qm9.targets[rows, TARGET_KEYS.index("mu")]  # D
    smiles = [qm9.smiles[r] for r in rows]
    table = tmp_path / "external.csv"
    with open(table, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["SMILES", "homo [meV]", "mu", "source"])  # no U0 column; a text column
        w.writerows([s, f"{h * 1000:.6f}", f"{m:.6f}", "qm9"] for s, h, m in zip(smiles, homo, mu))
        w.writerow(["CCCl", "-300", "1.9", "other"])  # Cl: not in the model's elements
        w.writerow(["C1CC", "-300", "", "typo"])  # unreadable SMILES
    out = tmp_path / "ev"
    assert main(["evaluate", str(run), "--data", str(table), "--out", str(out)]) == 0
    assert "2 molecules skipped" in capsys.readouterr().out
    body = json.loads((out / "metrics.json").read_text())
    assert [r["key"] for r in body["targets"]] == ["homo", "mu"] and body["n_molecules"] == 12 and body["n_skipped"] == 2
    model = load_model(run)
    values, errors = predict_smiles(model, smiles)
    assert errors == [None] * 12
    direct = [np.abs(values[:, 1] - homo).mean() * 1000.0, np.abs(values[:, 2] - mu).mean()]  # meV, D
    np.testing.assert_allclose([r["mae"] for r in body["targets"]], direct, rtol=1e-9)
    with open(out / "predictions.csv") as fh:
        pred = list(csv.DictReader(fh))
    assert list(pred[0]) == ["name", "smiles", "homo [meV]", "mu [D]", "homo predicted [meV]", "mu predicted [D]", "error"]
    np.testing.assert_allclose([float(r["homo [meV]"]) for r in pred[:12]], homo * 1000.0, rtol=1e-6)
    assert "Cl" in pred[12]["error"] and pred[12]["homo predicted [meV]"] == "" and pred[13]["error"]
    # an STL model (here the same run) evaluated on the same CSV: Delta_m exactly 0
    assert main(["evaluate", str(run), "--data", str(table), "--stl-dir", str(run), "--out", str(tmp_path / "s")]) == 0
    assert json.loads((tmp_path / "s" / "metrics.json").read_text())["delta_m_percent"] == pytest.approx(0.0, abs=1e-9)
    # an evaluation folder of another part is not an STL reference for this CSV
    assert main(["-q", "evaluate", str(run), "--stl-dir", str(run), "--out", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(table), "--stl-dir", str(tmp_path / "t")]) == 2
    assert "but this evaluation is on the data:" in capsys.readouterr().err


@pytest.mark.parametrize("make, args, words", [
    (lambda p: p.write_text("smiles,logS\nCCO,1.0\n"), [], "no label column for any of the model's targets"),
    (lambda p: p.write_text("smiles,homo\nCCCl,-0.3\nC1CC,-0.2\n"), [], "no molecule of"),
    (lambda p: p.write_text("smiles,homo\nCCO,-0.3\n"), ["--split-part", "val"], "choose one"),
    (lambda p: p.write_text("smiles,homo\nCCO,abc\n"), [], "is not a number"),
    (lambda p: p.write_text("smiles,homo\nCCO,-0.3\n"), ["--smiles-column", "Drug"], "no SMILES column"),
])
def test_evaluate_on_a_bad_csv_exits_2_with_one_line(tmp_path, capsys, make, args, words):
    table = tmp_path / "t.csv"
    make(table)
    assert main(["evaluate", _shipped(), "--data", str(table), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err


def _shipped() -> str:
    from molmtl.methods.ml import SHIPPED_MODEL

    return str(SHIPPED_MODEL)


def test_tasks_from_a_grouping_file(tmp_path, capsys):
    """``--tasks FILE`` trains on every task of a grouping file, ``--tasks FILE:N`` on its N-th group."""
    (tmp_path / "g.json").write_text(json.dumps([["U0", "U"], ["HOMO", "lumo"]]))
    (tmp_path / "g.txt").write_text("U0 U  # energies\nhomo, lumo\n")
    base = ["--encoder", "gcn", "--hidden", "8", "--layers", "1", "--max-molecules", "16", "--epochs", "1",
            "--accelerator", "cpu", "--no-progress"]
    for spec, expected in ((f"{tmp_path / 'g.json'}:2", ["homo", "lumo"]), (str(tmp_path / "g.txt"), ["U0", "U", "homo", "lumo"])):
        run = tmp_path / expected[0]
        assert main(["-q", "train", "--out", str(run), *base, "--tasks", spec]) == 0
        assert json.loads((run / "config.json").read_text())["tasks"] == expected
    capsys.readouterr()
    for spec, words in ((f"{tmp_path / 'g.json'}:3", "has 2 groups, numbered from 1"),
                        (str(tmp_path / "none.json"), "does not exist")):
        assert main(["-q", "train", "--out", str(tmp_path / "bad"), *base, "--tasks", spec]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err


def test_plateau_options_reach_the_run_config(tmp_path):
    run = tmp_path / "run"
    assert main(["-q", "train", "--out", str(run), "--encoder", "gcn", "--hidden", "8", "--layers", "1",
                 "--max-molecules", "16", "--epochs", "1", "--accelerator", "cpu", "--no-progress", "--tasks", "U0",
                 "--schedule", "plateau", "--plateau-factor", "0.5", "--plateau-patience", "2", "--ema", "0.99"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["schedule"], cfg["plateau_factor"], cfg["plateau_patience"], cfg["ema"]) == ("plateau", 0.5, 2, 0.99)


def test_warmup_reaches_the_run_config_and_the_schedule(tmp_path):
    run = tmp_path / "run"
    assert main(["-q", "train", "--out", str(run), "--encoder", "gcn", "--hidden", "8", "--layers", "1",
                 "--max-molecules", "16", "--batch-size", "4", "--epochs", "2", "--accelerator", "cpu", "--no-progress",
                 "--tasks", "U0", "--warmup-epochs", "0.5", "--lr", "1e-3"]) == 0
    assert json.loads((run / "config.json").read_text())["warmup_epochs"] == 0.5
    import csv

    lrs = [float(r["lr"]) for r in csv.DictReader((run / "logs" / "version_0" / "metrics.csv").open()) if r.get("lr")]
    # 8 steps, 2 of warm-up: after step 4 the cosine is a third of the way down, 0.01 + 0.99 * 0.75 of
    # the peak (with the default one-epoch warm-up, 4 steps, it would be at the peak)
    assert lrs[0] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.75), rel=1e-5)
