"""``molmtl train --config FILE``: TOML, YAML or JSON config fields under the command line's, a run
folder's config.json read back the same way, and bad files refused in one sentence."""

from __future__ import annotations

import json

import pytest

from molmtl.cli import main

TINY = ["--max-molecules", "24", "--batch-size", "12", "--accelerator", "cpu", "--no-progress"]


def _dry_run(capsys, *args) -> dict:
    assert main(["-q", "train", "--out", "unused", "--dry-run", *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_a_toml_config_is_the_base_and_the_command_line_overrides_it(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('encoder = "gcn"\ntasks = ["U0", "homo"]\nepochs = 7\nlr = "2e-3"\nstrategy = "soft"\n'
                   '[strategy_hp]\nlam = 0.05\n[encoder_hp]\nhidden = 24\n')
    body = _dry_run(capsys, "--config", str(cfg))
    assert (body["encoder"], body["tasks"], body["epochs"], body["lr"]) == ("gcn", ["U0", "homo"], 7, 0.002)
    assert body["strategy_hp"] == {"lam": 0.05} and body["encoder_hp"] == {"hidden": 24}
    body = _dry_run(capsys, "--config", str(cfg), "--epochs", "2", "--lambda", "0.5", "--encoder-opt", "num_layers=2")
    assert body["epochs"] == 2 and body["strategy_hp"] == {"lam": 0.5} and body["encoder_hp"] == {"hidden": 24, "num_layers": 2}


def test_a_yaml_config_with_a_protocol(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("protocol: libmtl\nepochs: 3\nweighting: dwa\nweighting_hp:\n  temperature: 4\n")
    body = _dry_run(capsys, "--config", str(cfg))
    assert body["encoder"] == "mpnn" and body["tasks"][0] == "mu" and len(body["tasks"]) == 11  # the protocol's
    assert body["epochs"] == 3 and body["weighting_hp"] == {"temperature": 4.0}


def test_a_run_folders_config_json_reproduces_the_run(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--encoder", "gcn", "--hidden", "8", "--layers", "1", "--tasks", "U0,mu", "--epochs", "1", "--seed", "3", *TINY]
    assert main(["-q", "train", "--out", str(run), *args]) == 0
    capsys.readouterr()
    saved = json.loads((run / "config.json").read_text())
    assert _dry_run(capsys, "--config", str(run / "config.json")) == saved


@pytest.mark.parametrize("text, suffix, words", [
    ("epochs = 3\nlrr = 1e-3\n", ".toml", "unknown config field 'lrr'"),
    ("epochs = 'many'\n", ".toml", "config field 'epochs' takes int, got 'many'"),
    ("epochs = [1\n", ".toml", "is not a readable TOML config"),
    ("- a\n- b\n", ".yaml", "must hold a mapping"),
    ('{"encoder": "schnet"}', ".json", "unknown encoder 'schnet'"),
    ('{"strategy_hp": {"lam": "x"}, "strategy": "soft"}', ".json", "option 'lam' takes float"),
    ("epochs: 3", ".ini", "is .toml, .yaml/.yml or .json"),
])
def test_bad_config_files_are_one_sentence(tmp_path, capsys, text, suffix, words):
    cfg = tmp_path / f"run{suffix}"
    cfg.write_text(text)
    assert main(["-q", "train", "--out", str(tmp_path / "r"), "--dry-run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err
