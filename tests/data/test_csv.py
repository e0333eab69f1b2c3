"""User CSVs: SMILES column, unit-bearing headers, NaN labels, malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.data.csv import read_csv
from molmtl.errors import InputError, NotFoundError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_with_units_and_missing_labels(tmp_path):
    path = write(tmp_path, "smiles,homo [meV],U0,logS\nCCO,-7126.66,-4217.0,1.5\nC,,-1101.5,\nc1ccccc1,-6500,,2\n")
    data = read_csv(path)
    assert [t.key for t in data.targets] == ["homo", "U0", "logS"]
    assert data.y[0, 0] == pytest.approx(-7.12666)  # meV -> eV
    assert np.isnan(data.y[1, 0]) and np.isnan(data.y[2, 1]) and np.isnan(data.y[1, 2])
    assert data.smiles == ["CCO", "C", "c1ccccc1"]


def test_id_column_and_explicit_columns(tmp_path):
    path = write(tmp_path, "id,SMILES,mu,gap\na,CCO,1.4,9.3\nb,CC,0,10\n")
    data = read_csv(path, target_columns=["mu"])
    assert data.names == ["a", "b"] and [t.key for t in data.targets] == ["mu"]


def test_tasks_leave_other_columns_unread(tmp_path):
    path = write(tmp_path, "Drug,logS,source,homo [meV]\nCCO,1.5,lab A,-7126.66\nCC,2,lab B,\n")
    with pytest.raises(InputError, match="'lab A' is not a number .a column that holds no target: leave it out with --tasks"):
        read_csv(path, smiles_column="Drug")
    data = read_csv(path, smiles_column="Drug", tasks=["homo", "logS"])
    assert [t.key for t in data.targets] == ["logS", "homo"] and data.y.shape == (2, 2)
    assert data.y[0, 1] == pytest.approx(-7.12666) and np.isnan(data.y[1, 1])
    header = read_csv(path, smiles_column="Drug", labels=False, validate=False)  # the targets alone
    assert [t.key for t in header.targets] == ["logS", "source", "homo"] and header.y.shape == (2, 0)


@pytest.mark.parametrize(
    "text, match",
    [
        ("smiles,homo\nCCO,abc\n", r"line 2, column 'homo': 'abc' is not a number"),
        ("smiles,homo\nCCO,1\nC1CC,2\n", r"1 invalid SMILES \(line 3\)"),
        ("name,homo\nx,1\n", "no SMILES column"),
        ("smiles,U0 [kcal/mol]\nC,1\n", "not kcal/mol"),
        ("smiles\n", "no data rows"),
        ("smiles,homo,homo\nC,1,2\n", "'homo' appears more than once"),
        ("smiles,homo\nCCO,1\n\nCCO,abc\n", r"line 4, column 'homo': 'abc'"),  # the file's line, blank lines counted
        ("smiles,homo\nCCO,1\n\nC1CC,2\n", r"1 invalid SMILES \(line 4\)"),
        ("smiles,homo\n\n\n", "no data rows"),
    ],
)
def test_malformed(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        read_csv(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="CSV file not found"):
        read_csv(tmp_path / "none.csv")
