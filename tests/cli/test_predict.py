"""``molmtl predict`` and the ``ml`` method (:mod:`molmtl.methods.ml`) with the shipped models."""

import json

import numpy as np
import pytest

from molmtl.cli import main
from molmtl.data.batching import MolDataset
from molmtl.data.splits import random_split
from molmtl.inference import molecule_dataset, predict_dataset
from molmtl.methods.ml import (
    SHIPPED_MODEL,
    SHIPPED_SMILES_MODEL,
    MLMethod,
    load,
    shipped_model,
)
from molmtl.targets import TARGET_KEYS
from molmtl.training.evaluate import target_metrics


@pytest.fixture(scope="module")
def shipped():
    model, _ = load(None)
    return model


def test_shipped_model_is_packaged_and_describes_itself(shipped):
    assert SHIPPED_MODEL.is_file() and SHIPPED_MODEL.parent.name == "weights"
    assert shipped.keys == TARGET_KEYS and shipped.config.encoder == "painn" and shipped.config.strategy == "hard"
    assert shipped.info["split"]["name"] == "random-42" and shipped.info["split"]["sizes"] == [110000, 10000, 10831]


def test_shipped_model_regression_on_test_molecules(shipped, qm9):
    # 300 molecules of the standard test split: MAEs near the full-test figures of MODEL_CARD.md
    # (U0 12.0 meV, HOMO 47.8 meV, mu 0.039 D, alpha 0.102 bohr^3; these 300 gave 11.2, 48.4,
    # 0.0385, 0.098), with room for a small sample
    rows = np.asarray(random_split(len(qm9)).test)[:300]
    y, p = predict_dataset(shipped, MolDataset(qm9.subset(rows), shipped.targets))
    mae = {r["key"]: r["mae"] for r in target_metrics(shipped.targets, y, p)}
    assert mae["U0"] < 20 and mae["U0_atom"] < 20 and mae["homo"] < 60 and mae["lumo"] < 60
    assert mae["mu"] < 0.05 and mae["alpha"] < 0.13 and mae["zpve"] < 2 and mae["cv"] < 0.05


def test_shipped_smiles_model_regression_from_smiles(shipped, qm9):
    # 200 standard-test molecules given as SMILES (ETKDG + MMFF, embedded as predict does): the
    # model fine-tuned on such geometries against the B3LYP-geometry model on the same geometries
    # (MODEL_CARD.md, the full test part from SMILES: U0 53.1 against 218 meV, mu 0.371 D with the
    # D-MPNN's dipole blended in)
    from molmtl.data.geometries import embed_smiles

    rows = np.asarray(random_split(len(qm9)).test)[:200]
    made = embed_smiles([qm9.canonical_smiles[r] for r in rows])
    kept = np.array([m is not None for m in made.molecules])
    mols = [m for m in made.molecules if m is not None]
    smiles_model, _ = load(None, source="smiles")
    mae = {}
    for name, model in (("smiles", smiles_model), ("b3lyp", shipped)):
        _, p = predict_dataset(model, molecule_dataset(model, mols))  # as the model reads them (2D graphs too)
        mae[name] = {r["key"]: r["mae"] for r in target_metrics(model.targets, qm9.targets[rows[kept]], p)}
    assert kept.sum() >= 195
    ours, theirs = mae["smiles"], mae["b3lyp"]
    assert ours["U0"] < 70 and ours["U0_atom"] < 70 and ours["homo"] < 115 and ours["lumo"] < 120
    assert ours["gap"] < 155 and ours["mu"] < 0.45 and ours["alpha"] < 0.45 and ours["zpve"] < 5 and ours["cv"] < 0.14
    for key in ("U0", "homo", "lumo", "gap", "mu", "alpha", "zpve", "cv", "r2"):  # better than the B3LYP model here
        assert ours[key] < 0.8 * theirs[key], key

    from molmtl.data.inputs import read_molecule

    mol = read_molecule("qm9:4210", dataset=qm9)  # 3-fluoropyridine, in the standard test split
    result = MLMethod(str(SHIPPED_MODEL), qm9=qm9).run(mol)
    assert result.qm9["index"] == 4210 and result.qm9["split_part"] == "test" and not result.warnings
    assert result.qm9["match"] == "QM9 id" and result.qm9["rmsd_angstrom"] == 0.0 and result.qm9["same_conformer"]
    labels, values = result.qm9["labels"], result.properties
    assert result.units["U0"] == "eV" and abs(labels["U0"] * 1000 - (-9454777.8)) < 0.1
    assert abs(values["U0"] - labels["U0"]) < 0.1 and abs(values["lumo"] - labels["lumo"]) < 0.05
    assert abs(values["mu"] - labels["mu"]) < 0.1


def test_cli_smiles_prediction_uses_the_smiles_model(capsys):
    assert main(["-q", "predict", "Fc1cccnc1"]) == 0
    out, err = capsys.readouterr()
    assert "QM9 4210 (found by InChIKey; in the model's test set" in out and "QM9 label" in out and "meV" in out
    lines = out.strip().splitlines()
    assert len([line for line in lines if " +- " in line]) == 19  # every property with its sigma
    assert lines[-1].startswith("domain: ") and any(line.startswith("computed: A, B, C") for line in lines)
    assert "ETKDG + MMFF" not in err  # the geometry is the kind this model was trained on
    # the B3LYP-geometry model, asked for by name, warns that a SMILES geometry is not its kind
    assert main(["-q", "predict", "Fc1cccnc1", "--model", str(SHIPPED_MODEL), "--json"]) == 0
    out, err = capsys.readouterr()
    body = json.loads(out)
    assert body["provenance"]["model"] == str(SHIPPED_MODEL) and any("ETKDG + MMFF" in w for w in body["warnings"])
    assert len(body["provenance"]["model_sha256"]) == 64


def test_the_shipped_model_is_chosen_by_the_inputs_geometry(qm9, capsys):
    assert shipped_model("smiles") == SHIPPED_SMILES_MODEL and shipped_model("qm9") == SHIPPED_MODEL
    assert shipped_model("xyz") == SHIPPED_MODEL and shipped_model(None) == SHIPPED_MODEL
    smiles_model, _ = load(None, source="smiles")
    assert smiles_model.config.geometry == "rdkit" and smiles_model.keys == TARGET_KEYS
    assert smiles_model.info["split"]["name"] == "random-42"  # fine-tuned on the same split: its test part is unseen
    assert main(["-q", "predict", "qm9:4210", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["model"] == str(SHIPPED_MODEL) and body["schema"] == "molmtl.result" and body["method"] == "ml"


def test_cli_json_is_strict_and_in_registry_units(capsys):
    assert main(["-q", "predict", "qm9:14", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert set(body["properties"]) == set(TARGET_KEYS) and body["units"]["U0"] == "eV" and body["units"]["mu"] == "D"
    assert body["qm9"]["index"] == 14 and body["qm9"]["split_part"] == "train"
    assert abs(body["qm9"]["labels"]["U0"] - body["properties"]["U0"]) < 0.1  # eV
    assert any("training set" in w for w in body["warnings"])


def test_cli_without_lookup_and_from_xyz(tmp_path, capsys):
    xyz = tmp_path / "water.xyz"
    xyz.write_text("3\nwater\nO 0.0 0.0 0.1173\nH 0.0 0.7572 -0.4692\nH 0.0 -0.7572 -0.4692\n")
    assert main(["-q", "predict", str(xyz), "--no-qm9"]) == 0
    out = capsys.readouterr().out
    assert "QM9 label" not in out and "geometry: input XYZ file" in out and "bohr^3" in out


@pytest.mark.parametrize("args, words", [
    (["C[Si](C)C"], "contains Si"),
    (["[NH4+]"], "only neutral molecules; GFN2-xTB takes it: --methods xtb"),
    (["C[CH2]"], "closed shells"),
    (["CCO.O"], "2 fragments"),
    (["O1C~C1"], "query features"),
    (["C1CC"], "not a valid SMILES"),
    (["CCO", "--model", "/nonexistent/model.pt"], "model not found"),
    (["missing.xyz"], "not found"),
])
def test_cli_bad_input_exits_2_with_one_line(capsys, args, words):
    assert main(["-q", "predict", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err


def test_small_molecules_are_flagged(shipped, qm9):
    from molmtl.data.inputs import read_molecule

    method = MLMethod(str(SHIPPED_MODEL), qm9=qm9)
    assert any("heavy atoms" in w for w in method.run(read_molecule("qm9:1", dataset=qm9)).warnings)  # methane
    assert not any("heavy atoms" in w for w in method.run(read_molecule("qm9:4210", dataset=qm9)).warnings)


def test_cli_predicts_a_csv_of_molecules_row_by_row(tmp_path, capsys):
    """One row per input: the same numbers as predicting each SMILES alone (display units in the
    headers), and a reason instead of numbers where a molecule cannot be predicted."""
    import csv

    src = tmp_path / "mols.csv"
    src.write_text("id,SMILES\na,Fc1cccnc1\nb,C1CC\nc,CCBr\nd,OCC=O\n")
    out = tmp_path / "preds.csv"
    assert main(["-q", "predict", str(src), "--out", str(out)]) == 0
    assert "2 of 4 molecules predicted" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert [r["name"] for r in rows] == ["a", "b", "c", "d"] and "homo [meV]" in rows[0] and "mu [D]" in rows[0]
    assert rows[0]["qm9_index"] == "4210" and rows[0]["split_part"] == "test" and float(rows[0]["homo QM9 [meV]"]) < -6000
    assert "not a valid SMILES" in rows[1]["error"] and "contains Br" in rows[2]["error"] and rows[1]["homo [meV]"] == ""
    for row, smi in ((rows[0], "Fc1cccnc1"), (rows[3], "OCC=O")):
        assert main(["-q", "predict", smi, "--json", "--no-qm9"]) == 0
        alone = json.loads(capsys.readouterr().out)["properties"]
        assert row["error"] == ""
        assert float(row["homo [meV]"]) == pytest.approx(alone["homo"] * 1000, rel=1e-6)
        assert float(row["U0 [meV]"]) == pytest.approx(alone["U0"] * 1000, rel=1e-6)
        assert float(row["mu [D]"]) == pytest.approx(alone["mu"], rel=1e-6)
    assert main(["-q", "predict", str(src), "--no-progress"]) == 0  # without --out: the same CSV on standard output
    assert capsys.readouterr().out == out.read_text()
    (tmp_path / "bad.csv").write_text("smiles\nCCBr\nC1CC\n")  # no row can be predicted: exit code 2
    for args in ([str(src), "--json"], ["CCO", "--out", str(out)], [str(tmp_path / "none.csv")],
                 [str(src), "--smiles-column", "smi"], [str(tmp_path / "bad.csv"), "--out", str(tmp_path / "b.csv")],
                 [str(src), "CCO"]):
        assert main(["-q", "predict", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1, err


def test_prediction_imports_neither_lightning_nor_torch_geometric(qm9):
    # a PaiNN prediction is milliseconds of work: importing Lightning (~5 s on 2 cores) and
    # torch_geometric for it made `molmtl predict` take 9 s instead of 2.5 s
    import subprocess
    import sys

    code = ("import sys\n"
            "from molmtl.cli import main\n"
            "assert main(['predict', 'qm9:4210', '--json']) == 0\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'pytorch_lightning', 'torch_geometric'})\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout[-300:]


def test_evaluating_the_shipped_model_writes_to_the_working_directory(tmp_path, monkeypatch):
    # without --out, a run's evaluation goes beside its model; the shipped model's folder is inside
    # the installed package, so its evaluation goes to ./eval-MODELNAME-PART instead
    (tmp_path / "ext.csv").write_text("smiles,gap [eV]\nCCO,8.5\nCC(=O)O,7.0\n")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in SHIPPED_MODEL.parent.iterdir())
    assert main(["-q", "evaluate", str(SHIPPED_MODEL), "--data", "ext.csv"]) == 0
    assert (tmp_path / "eval-qm9-painn-hard-19-ext" / "metrics.json").is_file()
    assert sorted(p.name for p in SHIPPED_MODEL.parent.iterdir()) == before


def test_several_molecules_smi_lists_and_headerless_csvs(tmp_path, capsys):
    assert main(["-q", "predict", "CCO", "qm9:4210", "--json"]) == 0
    bodies = json.loads(capsys.readouterr().out)
    assert [b["molecule"]["formula"] for b in bodies] == ["C2H6O", "C5H4FN"]
    smi = tmp_path / "mols.smi"
    smi.write_text("# a SMILES list\nCCO ethanol\n\nFc1cccnc1 3-fluoropyridine\nC1CC broken\n")
    out = tmp_path / "p.csv"
    assert main(["-q", "predict", str(smi), "--out", str(out)]) == 0
    import csv

    rows = list(csv.DictReader(out.open()))
    assert [r["name"] for r in rows] == ["ethanol", "3-fluoropyridine", "broken"] and rows[2]["error"]
    bare = tmp_path / "bare.csv"
    bare.write_text("CCO\nFc1cccnc1\n")  # no header: the first column holds SMILES
    assert main(["-q", "predict", str(bare), "--out", str(out)]) == 0
    assert [r["smiles"] for r in csv.DictReader(out.open())] == ["CCO", "Fc1cccnc1"]
    salts = tmp_path / "salts.csv"
    salts.write_text("smiles\nCCO.O\n")
    assert main(["-q", "predict", str(salts), "--out", str(out)]) == 2  # its only row: refused with the reason
    assert main(["-q", "predict", str(salts), "--out", str(out), "--largest-fragment"]) == 0
    (row,) = csv.DictReader(out.open())
    assert row["smiles"] == "CCO" and "only the largest" in row["warnings"]


def test_batch_predictions_do_not_depend_on_workers_or_order(tmp_path, capsys):
    """Two embedding workers and size-sorted batches give the rows of one process, in input order."""
    import csv

    src = tmp_path / "m.csv"
    src.write_text("smiles\n" + "\n".join(["CCO", "CCCCCCCC", "C1CC", "c1ccncc1", "OCC=O", "CC(C)(C)C#N"] * 70) + "\n")
    tables = []
    for workers in ("1", "2"):
        out = tmp_path / f"p{workers}.csv"
        assert main(["-q", "predict", str(src), "--out", str(out), "--workers", workers, "--no-qm9"]) == 0
        tables.append(list(csv.DictReader(out.open())))
    assert len(tables[0]) == 420 and [r["smiles"] for r in tables[0]][:6] == ["CCO", "CCCCCCCC", "C1CC", "c1ccncc1", "OCC=O",
                                                                            "CC(C)(C)C#N"]
    for a, b in zip(*tables):
        assert a["error"] == b["error"]
        if not a["error"]:
            assert float(a["homo [meV]"]) == pytest.approx(float(b["homo [meV]"]), abs=1e-3)
