"""``molmtl data``: output with units, and bad input as one sentence with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from molmtl.cli import main


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info(capsys, qm9):
    code, out, _ = run(capsys, "data", "info")
    assert code == 0
    assert "130,831 molecules, 19 targets" in out
    assert "U0_atom  meV" in out and "cv       cal/(mol K)" in out and "A        GHz" in out


def test_show_methane_json(capsys, qm9):
    code, out, _ = run(capsys, "data", "show", "1", "--json")
    assert code == 0
    rec = json.loads(out)
    assert rec["targets"]["U0"] == pytest.approx(-1101.49, abs=0.005)
    assert rec["targets"]["U0_atom"] == pytest.approx(-17.17, abs=0.005)
    assert rec["raw"]["U0"] == -40.47893 and rec["targets"]["mu"] == 0


def test_show_by_smiles(capsys, qm9):
    code, out, _ = run(capsys, "data", "show", "OCC")
    assert code == 0 and out.startswith("QM9 14: C2H6O")
    assert "U0" in out and "meV" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (("data", "show", "C1CC"), "'C1CC' is not a valid SMILES string"),
        (("data", "show", "XYZ_THAT_DOES_NOT_EXIST"), "not a valid SMILES"),
        (("data", "show", "missing.xyz"), "file not found: missing.xyz"),
        (("data", "show", "C[Si](C)C"), "contains Si"),
        (("data", "show", "999999"), "QM9 has no molecule 999999"),
        (("data", "show", "C/C=C/C"), "C/C=C/C is not in QM9"),  # '/' is bond stereo, not a path
    ],
)
def test_bad_input_one_sentence_exit_2(capsys, qm9, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "Traceback" not in err and out == ""


def test_usage_errors_exit_2(capsys):
    code, _, err = run(capsys, "data", "show", "1", "--bogus")
    assert code == 2 and "No such option" in err
    code, _, _ = run(capsys, "data", "nonsense")
    assert code == 2


def test_console_script_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "molmtl", "data", "show", "C1CC"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: 'C1CC' is not a valid SMILES string (syntax error, e.g. an unclosed ring or bracket)"
