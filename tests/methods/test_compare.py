"""``compare``: methods side by side, the reference chosen as documented, errors, wall times, JSON/CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest

from molmtl.chem.parse import from_smiles
from molmtl.cli import main
from molmtl.dft.store import ResultStore
from molmtl.errors import InputError
from molmtl.methods.compare import compare, compute_seconds
from molmtl.methods.registry import METHODS

SMALL_DFT = ["--method-opt", "dft.basis=sto-3g", "--method-opt", "dft.thermo=false", "--method-opt", "dft.polarizability=false",
             "--method-opt", "dft.device=cpu"]


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results.sqlite")


def test_a_qm9_molecule_is_measured_against_its_label(qm9, store):
    mol = qm9.molecule(qm9.position_of_index(4210))
    methods = {"ml": METHODS.build("ml", qm9=qm9), "qm9": METHODS.build("qm9", qm9=qm9)}
    result = compare(mol, methods, qm9=qm9)
    assert result.reference_source == "qm9" and "found by QM9 id" in result.reference_note
    assert result.columns() == ["ml"]  # QM9's labels are the reference column
    err = result.abs_error("ml")
    assert set(err) == set(result.results["ml"].properties) and err["U0"] < 0.1  # eV
    body = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert body["reference"]["source"] == "qm9" and body["methods"]["ml"]["abs_error"]["mu"] == pytest.approx(err["mu"])
    assert body["methods"]["ml"]["wall_s"] > 0 and body["molecule"]["formula"] == "C5H4FN"
    table = result.in_energy_unit("meV").table()
    assert "QM9 label" in table and "meV" in table and "wall time" in table and "x)" in table  # x chemical accuracy


def test_a_molecule_outside_qm9_is_measured_against_dft(qm9, store):
    mol = from_smiles("CCCCCCCCCCO")  # 11 heavy atoms: not in QM9
    methods = {"xtb": METHODS.build("xtb", optimize=False, frequencies=False, store=store),
               "dft": METHODS.build("dft", basis="sto-3g", thermo=False, polarizability=False, optimize=False,
                                    device="cpu", store=store)}
    result = compare(mol, methods, qm9=qm9)
    assert result.reference_source == "dft" and "not in QM9" in result.reference_note
    assert "U0" not in result.abs_error("xtb") and "homo" in result.abs_error("xtb")  # xTB's totals: another zero
    speed = result.speedups()
    assert speed["dft"][0] == pytest.approx(1.0) and not speed["xtb"][1]
    none = compare(mol, {"xtb": methods["xtb"]}, qm9=qm9)
    assert none.reference_source is None and "add dft" in none.reference_note


def test_a_stored_result_counts_with_the_time_of_its_computation_not_of_reading_it(qm9, store):
    mol = from_smiles("CC#N")
    xtb = METHODS.build("xtb", optimize=False, frequencies=False, store=store)
    first = compare(mol, {"xtb": xtb}, qm9=qm9)
    again = compare(mol, {"xtb": xtb}, qm9=qm9)
    computed, stored = first.results["xtb"], again.results["xtb"]
    assert not computed.provenance["cached"] and stored.provenance["cached"]
    assert compute_seconds(computed) == (computed.wall_s, False)
    seconds, was_stored = compute_seconds(stored)
    assert was_stored and seconds == pytest.approx(sum(computed.timings_s.values())) and seconds > 0
    table = again.table()
    assert f"{seconds:.3g} (stored)" in table and "stored: xtb's result came from the results store" in table
    body = json.loads(json.dumps(again.to_json(), allow_nan=False))
    assert body["methods"]["xtb"]["stored"] is True and body["methods"]["xtb"]["compute_s"] == pytest.approx(seconds)
    assert body["methods"]["xtb"]["wall_s"] == pytest.approx(stored.wall_s)  # the call itself: milliseconds
    assert "compute_time" in again.to_csv()


def test_a_method_that_cannot_take_the_molecule_leaves_its_reason(qm9, store):
    mol = from_smiles("Clc1ccccc1")
    result = compare(mol, {"ml": METHODS.build("ml", qm9=qm9),
                           "xtb": METHODS.build("xtb", optimize=False, frequencies=False, store=store)}, qm9=qm9)
    assert list(result.results) == ["xtb"] and "contains Cl" in result.failures["ml"]
    assert "ml: no result: " in result.table()
    with pytest.raises(InputError, match="reference 'best'"):
        compare(mol, {"xtb": METHODS.build("xtb", store=store)}, reference="best")


def test_compare_cli_table_json_and_csv(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["-q", "compare", "qm9:4210", "--methods", "ml,xtb,qm9", "--method-opt", "xtb.frequencies=false",
                 "--store", store, "--csv", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "QM9 label" in out and "|err| xtb" in out and "wall time" in out and "reference: QM9 4210" in out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text())))
    assert rows[0]["property"] == "mu" and rows[0]["ml"] and [r["property"] for r in rows[-2:]] == ["wall_time", "compute_time"]
    assert main(["-q", "compare", "CCO", "--methods", "ml,xtb,dft", *SMALL_DFT, "--method-opt", "xtb.frequencies=false",
                 "--store", store, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert set(body) >= {"molecule", "reference", "methods", "estimates_s"} and body["energy_unit"] == "eV"
    assert body["reference"]["source"] == "qm9" and set(body["methods"]) == {"ml", "xtb", "dft"}
    for m in body["methods"].values():
        assert m["schema"] == "molmtl.result" and m["wall_s"] > 0 and "abs_error" in m
    assert main(["-q", "compare", "CCO", "--methods", "ml,xtb,dft", *SMALL_DFT, "--store", store]) == 0
    out = capsys.readouterr().out
    # ethanol is outside the network's domain (3 heavy atoms): its verdict shows, but no "check with
    # DFT" line beside the DFT column that just ran
    assert "speed-up" in out and "ml domain: outside" in out and "check with DFT" not in out
    assert main(["-q", "compare", "CCO", "--methods", "ml"]) == 0
    assert "ml check with DFT: molmtl compare CCO --methods ml,xtb,dft" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["CCO", "--methods", "ml,gaussian"], "unknown method 'gaussian'"),
    (["CCO", "--methods", "ml,ml"], "repeats a method"),
    (["CCO", "--method-opt", "dft.thermo=false"], "not among --methods"),
    (["CCO", "--method-opt", "xtb.temperature=300"], "has no option 'temperature'"),
    (["CCO", "--method-opt", "xtb"], "METHOD.KEY=VALUE"),
    (["CCO", "--reference", "best"], "reference 'best'"),
    (["CCO", "--units", "kcal"], "--units takes"),
    (["CCO.O"], "2 fragments"),
    (["CCCCCCCCC(=O)OCCCCCCCCCC", "--methods", "ml,dft", "--max-dft-minutes", "0.01"], "--max-dft-minutes"),
])
def test_compare_bad_input_is_one_sentence(tmp_path, capsys, args, words):
    assert main(["-q", "compare", *args, "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err
