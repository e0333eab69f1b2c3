"""The ml method's trust on the shipped models: drug-sized molecules are ``outside`` with a sigma
above the test part's median and a "check with DFT" line; an element the model never saw is
refused with the reason and the xTB suggestion (in a CSV: the row's error column)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from molmtl.chem.parse import from_smiles
from molmtl.cli import main
from molmtl.errors import UnsupportedMoleculeError
from molmtl.inference import load_model
from molmtl.methods.ml import SHIPPED_SMILES_MODEL
from molmtl.methods.registry import METHODS
from molmtl.uncertainty.calibration import calibration_of

#: 15-24 heavy atoms, H, C, N, O, F only: ibuprofen, naproxen, melatonin, fluoxetine.
DRUGS = {"ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "naproxen": "COc1ccc2cc(ccc2c1)C(C)C(=O)O",
         "melatonin": "CC(=O)NCCc1c[nH]c2ccc(OC)cc12", "fluoxetine": "CNCCC(Oc1ccc(cc1)C(F)(F)F)c1ccccc1"}


@pytest.fixture(scope="module")
def ml():
    return METHODS.build("ml")


@pytest.mark.parametrize("name", sorted(DRUGS))
def test_a_drug_sized_molecule_is_outside_with_a_sigma_above_the_median(ml, name):
    result = ml.run(from_smiles(DRUGS[name], name=name))
    assert result.domain["verdict"] == "outside" and result.domain["reasons"]
    assert any("heavy atoms" in r for r in result.domain["reasons"])
    assert "molmtl compare" in result.domain["suggestion"] and "--methods ml,xtb,dft" in result.domain["suggestion"]
    cal = calibration_of(load_model(SHIPPED_SMILES_MODEL))
    keys = list(cal.keys)
    for key in ("U0", "homo", "lumo", "gap", "mu", "alpha"):
        sigma = result.uncertainty[key]
        median = float(cal.median_sigma[keys.index(key)])
        assert np.isfinite(sigma) and sigma > median, (key, sigma, median)


def test_an_element_the_model_never_saw_is_refused_with_the_xtb_suggestion(ml, tmp_path, capsys):
    with pytest.raises(UnsupportedMoleculeError, match=r"Cl.*--methods xtb"):
        ml.check(from_smiles("Clc1ccccc1"))
    src, out = tmp_path / "mols.csv", tmp_path / "preds.csv"
    src.write_text("smiles\nCCO\nClc1ccccc1\n")
    assert main(["-q", "predict", str(src), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    # ethanol is predicted (3 heavy atoms: QM9 has few that small, so its verdict is not "in")
    assert rows[0]["error"] == "" and rows[0]["domain"] in ("near", "outside") and float(rows[0]["U0_sigma [meV]"]) > 0
    assert "Cl" in rows[1]["error"] and "--methods xtb" in rows[1]["error"]


def test_the_dft_suggestion_for_a_geometry_file_names_the_file(tmp_path, monkeypatch, capsys):
    # two H atoms 1e9 Angstrom apart: outside the domain, so predict prints the suggestion, and it
    # must repeat the path given (the same geometry), not the file's stem
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "far.xyz").write_text("2\n\nH 0 0 0\nH 0 0 1e9\n")
    assert main(["predict", "sub/far.xyz"]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("check with DFT"))
    assert "molmtl compare sub/far.xyz --methods ml,xtb,dft" in line
