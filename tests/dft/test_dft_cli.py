"""``molmtl dft`` commands."""

from __future__ import annotations

import json

from molmtl.cli import main


def test_run_json_show_and_bad_input(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    args = ["dft", "run", "O", "--no-opt", "--no-thermo", "--no-polar", "--basis", "sto-3g", "--device", "cpu",
            "--json", "--store", store]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"]["homo"] == "eV" and out["units"]["mu"] == "D" and out["cached"] is False
    assert out["properties"]["gap"] > 0 and set(out["timings_s"]) >= {"scf", "properties"}
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True
    assert main(["dft", "show", out["key"][:8], "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "status: done" in shown and "meV" in shown and "timings:" in shown
    assert main(["dft", "run", "[Na+].[Cl-]", "--basis", "sto-3g", "--store", store]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Na" in err and err.count("\n") == 1
    assert main(["dft", "show", "nope", "--store", store]) == 2


def test_xtb_and_list(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["dft", "xtb", "O", "--no-freq", "--json", "--store", store]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "xtb" and out["level_of_theory"] == "GFN2-xTB" and out["schema"] == "molmtl.result"
    assert out["units"]["homo"] == "eV" and "different level" in out["warnings"][0]
    assert main(["dft", "list", "--store", store]) == 0
    assert "GFN2-xTB" in capsys.readouterr().out
    assert main(["dft", "list", "--status", "bogus", "--store", store]) == 2


def test_unknown_basis_and_stereo_smiles(tmp_path, capsys, recwarn):
    store = str(tmp_path / "s.sqlite")
    cheap = ["--no-opt", "--no-thermo", "--no-polar", "--device", "cpu", "--store", store]
    assert main(["dft", "run", "O", "--basis", "no-such-basis", *cheap]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no-such-basis" in err and err.count("\n") == 1
    assert not [w for w in recwarn if "basis-set-exchange" in str(w.message)]  # no PySCF hint before it
    assert main(["dft", "run", "F/C=C/F", "--basis", "sto-3g", "--json", *cheap]) == 0  # '/' is bond stereo, not a path
    assert json.loads(capsys.readouterr().out)["properties"]["homo"] < 0


def test_isotope_labels_are_reported_in_results(capsys):
    assert main(["dft", "xtb", "[2H]O[2H]", "--no-opt", "--no-freq", "--json", "--no-store"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert warnings[0].startswith("GFN2-xTB") and any("isotope labels (2H)" in w for w in warnings)


def test_json_output_is_strict_json():
    import json
    import math

    from molmtl.methods.result import MethodResult

    result = MethodResult("xtb", "GFN2-xTB", {"name": "H2"}, {"lumo": math.nan, "homo": -0.3}, {"lumo": "eV", "homo": "eV"},
                          extras={"rows": [math.inf, 1.0]})
    out = result.to_json()
    assert out["properties"] == {"lumo": None, "homo": -0.3} and out["extras"]["rows"] == [None, 1.0]
    json.dumps(out, allow_nan=False)


def test_df_derivatives_flag_reaches_the_stored_settings(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    cheap = ["O", "--no-opt", "--no-polar", "--basis", "sto-3g", "--device", "cpu", "--json", "--store", store]
    assert main(["dft", "run", *cheap]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert main(["dft", "run", *cheap, "--df-derivatives"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["key"] != exact["key"] and fitted["cached"] is False
    assert abs(fitted["properties"]["zpve"] - exact["properties"]["zpve"]) < 1e-3  # eV
    assert main(["dft", "show", fitted["key"], "--json", "--store", store]) == 0
    assert '"df_derivatives": true' in capsys.readouterr().out


def test_export_the_store_and_quiet_means_quiet(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["-q", "dft", "xtb", "CCC", "--no-freq", "--store", store]) == 0
    captured = capsys.readouterr()
    # -q: warnings only (the result's own); no geomeTRIC banner, no echo of its command line
    assert all(line.startswith("warning: ") for line in captured.err.splitlines()) and "geomeTRIC" not in captured.out
    assert main(["-v", "dft", "xtb", "CCCC", "--no-freq", "--store", store]) == 0
    assert "geometric-optimize called" in capsys.readouterr().err  # --verbose shows it, as DEBUG lines
    assert main(["dft", "xtb", "C1CC", "--store", store]) == 2
    capsys.readouterr()
    assert main(["-q", "dft", "export", str(tmp_path / "all.csv"), "--store", store, "--units", "meV"]) == 0
    import csv

    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert [r["name"] for r in rows] == ["CCC", "CCCC"] and rows[0]["status"] == "done" and float(rows[0]["homo [meV]"]) < -5000
    assert main(["-q", "dft", "export", str(tmp_path / "all.json"), "--store", store, "--method", "xtb"]) == 0
    assert json.loads((tmp_path / "all.json").read_text())[0]["method"] == "GFN2-xTB"
    assert main(["-q", "dft", "export", str(tmp_path / "x.txt"), "--store", store]) == 2


def test_dft_run_sets_qm9s_label_beside_each_value(tmp_path, capsys):
    assert main(["-q", "dft", "run", "qm9:3", "--no-opt", "--no-thermo", "--no-polar", "--basis", "sto-3g", "--device", "cpu",
                 "--store", str(tmp_path / "s.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "QM9 label" in out and "QM9 3 (found by QM9 id" in out and "E_elec" in out
