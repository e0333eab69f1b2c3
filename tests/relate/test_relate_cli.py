"""Every ``molmtl relate`` command end to end on a tiny QM9 subset (three tasks, 24 training
molecules, one epoch of a width-8 GCN): files written, runs shared between commands and kept on
rerun, grouping files that ``train --strategy clustered --groups`` reads; and bad input as one
``error:`` sentence with exit code 2."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from molmtl.cli import main
from molmtl.mtl.grouping import check_grouping, load_grouping
from molmtl.relate.tables import read_matrix

TASKS = ("U0", "homo", "mu")
BUDGET = ["--tasks", ",".join(TASKS), "--encoder", "gcn", "--hidden", "8", "--max-molecules", "24", "--batch-size",
          "12", "--epochs", "1", "--accelerator", "cpu"]
FANOUT = ["--workers", "0", "--no-progress"]


def _run(capsys, *argv) -> str:
    code = main(["-q", "relate", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    return captured.out


def _model_times(study):
    return {p.parent.name: p.stat().st_mtime_ns for p in (study / "runs").glob("*/model.pt")}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return tmp_path_factory.mktemp("relate") / "study"


def test_gains_trains_pairs_and_seeds_and_a_rerun_keeps_them(study, capsys):
    out = _run(capsys, "gains", "--out", str(study), "--seeds", "2", *BUDGET, *FANOUT)
    assert "9 runs (0 kept)" in out
    with open(study / "gains" / "gains.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["task"] for r in rows} == set(TASKS)
    assert {r["unit"] for r in rows if r["task"] == "U0"} == {"meV"}
    for r in rows:  # the gain is the pair's relative improvement on the seed mean
        mean, pair = float(r["single-task MAE, seed mean [unit]"]), float(r["pair MAE [unit]"])
        assert float(r["gain [%]"]) == pytest.approx(100 * (mean - pair) / mean, rel=1e-3, abs=1e-3)
        assert r["significant"] == ("yes" if abs(float(r["gain [%]"])) > float(r["threshold [%]"]) else "no")
    assert check_grouping(load_grouping(study / "gains" / "groups.json"), TASKS)
    assert (study / "gains" / "gains.png").stat().st_size > 0
    before = _model_times(study)
    assert len(before) == 9
    out = _run(capsys, "gains", "--out", str(study), "--seeds", "2", *BUDGET, *FANOUT)
    assert "9 runs (9 kept)" in out and _model_times(study) == before


def test_transfer_reuses_the_single_task_runs_and_writes_coefficients(study, capsys):
    before = _model_times(study)
    out = _run(capsys, "transfer", "--out", str(study), *BUDGET, *FANOUT)
    assert out.startswith("groups (k = ")
    assert _model_times(study) == before  # the three seed-0 single-task models of gains
    tasks, coeff = read_matrix(study / "transfer" / "transfer.csv")
    assert tasks == TASKS and np.allclose(np.diag(coeff), 1.0) and (coeff > 0).all()
    _, losses = read_matrix(study / "transfer" / "losses.csv")
    assert np.allclose(coeff, losses / np.diag(losses)[:, None], rtol=1e-4)
    summary = json.loads((study / "transfer" / "summary.json").read_text())
    assert summary["wall_s"] >= summary["encoder_training_s"] > 0
    assert check_grouping(load_grouping(study / "transfer" / "groups.json"), TASKS)
    _run(capsys, "transfer", "--out", str(study), "--groups", "3", *BUDGET, *FANOUT)  # regrouped, nothing retrained
    assert load_grouping(study / "transfer" / "groups.json") == [["U0"], ["homo"], ["mu"]]


def test_transfer_in_a_folder_of_fewer_tasks_fits_the_new_tasks_heads(tmp_path, capsys):
    # the first invocation studies two tasks; the second three: the cached head fits lack the third
    fewer = [*BUDGET]
    fewer[1] = "U0,homo"
    _run(capsys, "transfer", "--out", str(tmp_path), *fewer, *FANOUT)
    _run(capsys, "transfer", "--out", str(tmp_path), *BUDGET, *FANOUT)
    tasks, coeff = read_matrix(tmp_path / "transfer" / "transfer.csv")
    assert tasks == TASKS and np.isfinite(coeff).all() and np.allclose(np.diag(coeff), 1.0)


def test_correlation_writes_matrices_graph_and_groups(study, capsys):
    out = _run(capsys, "correlation", "--out", str(study), "--tasks", "U0,U,homo,mu", "--max-molecules", "40",
               "--threshold", "0.9")
    assert "(U0, U)" in out
    tasks, pearson = read_matrix(study / "correlation" / "pearson.csv")
    assert tasks == ("U0", "U", "homo", "mu") and np.allclose(pearson, pearson.T) and np.allclose(np.diag(pearson), 1)
    assert load_grouping(study / "correlation" / "groups.json")[0] == ["U0", "U"]
    for name in ("correlation.png", "graph.png", "spearman.csv"):
        assert (study / "correlation" / name).is_file()
    _run(capsys, "correlation", "--out", str(study), "--tasks", ",".join(TASKS), "--max-molecules", "40")


def test_tag_measures_affinities_and_a_rerun_keeps_the_run(study, capsys):
    out = _run(capsys, "tag", "--out", str(study), *BUDGET, "--epochs", "2", "--no-progress")
    assert "TAG groups" in out and "gradient-cosine groups" in out
    tasks, tag = read_matrix(study / "tag" / "tag.csv")
    _, cos = read_matrix(study / "tag" / "gradient_cosine.csv")
    assert tasks == TASKS and np.isfinite(tag).all() and np.allclose(np.diag(cos), 1.0, atol=1e-6)
    summary = json.loads((study / "tag" / "summary.json").read_text())
    assert summary["measured_steps"] == 4 and summary["cosine_wall_s"] <= summary["tag_wall_s"]
    stamp = (study / "tag" / "run.json").stat().st_mtime_ns
    _run(capsys, "tag", "--out", str(study), *BUDGET, "--epochs", "2", "--groups", "1", "--no-progress")
    assert (study / "tag" / "run.json").stat().st_mtime_ns == stamp
    assert load_grouping(study / "tag" / "groups.json") == [list(TASKS)]


def test_evaluate_ranks_every_measure_against_the_gains(study, capsys):
    out = _run(capsys, "evaluate", "--out", str(study), "--bootstrap", "50")
    with open(study / "evaluate" / "evaluate.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["measure"] for r in rows] == ["absolute Pearson r", "absolute Spearman rho", "gradient cosine",
                                            "TAG Z_j->i", "transfer -C_ij"]
    assert all(r["pairs"] == "3" and r["ordered pairs"] == "6" for r in rows) and "rho" in out
    assert (study / "evaluate" / "evaluate.png").is_file()
    out = _run(capsys, "evaluate", "--out", str(study), "--measures", "Transfer,gradient_cosine", "--bootstrap", "0")
    assert out.count("rho") == 2


def test_compare_runs_each_grouping_and_the_files_train_reads(study, capsys, tmp_path):
    groupings = [str(study / "transfer" / "groups.json"), str(study / "correlation" / "groups.json")]
    out = _run(capsys, "compare", "--groups", groupings[0], groupings[1], "--out", str(study), "--name", "tiny",
               *BUDGET, *FANOUT)
    assert "Delta_m" in out and "single-task: +0.00 %" in out
    md = (study / "compare" / "tiny" / "compare.md").read_text()
    assert "| U0 [meV] |" in md and "clustered: transfer-groups" in md and "clustered: correlation-groups" in md
    assert "| Delta_m [%] |" in md and (study / "compare" / "tiny" / "compare.png").is_file()
    summary = json.loads((study / "compare" / "tiny" / "summary.json").read_text())
    assert summary["runs_kept"] == 3  # the single-task column is gains' seed 0
    assert main(["-q", "train", "--strategy", "clustered", "--groups", groupings[1], *BUDGET, "--no-progress",
                 "--out", str(tmp_path / "clustered")]) == 0
    assert (tmp_path / "clustered" / "model.pt").is_file()
    capsys.readouterr()


def test_gains_fan_out_over_a_dask_worker(tmp_path, capsys):
    budget = [a if a != ",".join(TASKS) else "U0,homo" for a in BUDGET]
    out = _run(capsys, "gains", "--out", str(tmp_path / "dask"), "--seeds", "2", *budget, "--workers", "1",
               "--no-progress")
    assert "5 runs (0 kept)" in out
    assert len(list((tmp_path / "dask" / "runs").glob("*/relate_run.json"))) == 5


@pytest.mark.parametrize("argv, words", [
    (["evaluate", "--out", "{study}", "--measures", "bogus"], "unknown relatedness measure 'bogus'"),
    (["evaluate", "--out", "{empty}"], "relate gains --out"),
    (["correlation", "--out", "{empty}", "--threshold", "1.5"], "threshold must be in (0, 1]"),
    (["correlation", "--out", "{empty}", "--method", "kendall"], "unknown correlation method"),
    (["transfer", "--out", "{empty}", "--groups", "0", *BUDGET, *FANOUT], "number of groups"),
    (["tag", "--out", "{empty}", "--groups", "9", *BUDGET], "number of groups"),
    (["tag", "--out", "{empty}", "--every", "0", *BUDGET], "--every"),
    (["gains", "--out", "{empty}", "--seeds", "1", *BUDGET], "--seeds must be >= 2"),
    (["gains", "--out", "{empty}", "--tasks", "U0", "--workers", "0"], "at least two tasks"),
    (["compare", "--groups", "missing.json", "--out", "{empty}", *BUDGET, *FANOUT], "does not exist"),
    (["compare", "--out", "{empty}", *BUDGET], "--groups FILE"),
    (["compare", "--groups", "{partial}", "--out", "{empty}", *BUDGET, *FANOUT], "exactly once"),
    (["gains", *BUDGET], "Missing option '--out'"),
    (["transfer", "--out", "{empty}", "--bogus"], "No such option: --bogus"),
    (["gains", "--out", "{empty}", "--workers", "-1", *BUDGET], "--workers"),
])
def test_bad_input_is_one_error_sentence_and_exit_2(argv, words, study, tmp_path, capsys):
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps([["U0", "homo"]]))
    argv = [a.format(study=study, empty=tmp_path / "empty", partial=partial) for a in argv]
    assert main(["relate", *argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err and err[-1].startswith("error:") and words in err[-1], captured.err[-1500:]
    assert "Traceback" not in captured.out + captured.err
