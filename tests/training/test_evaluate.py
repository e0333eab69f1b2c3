import json

import numpy as np
import pytest

from molmtl.errors import InputError
from molmtl.targets import get_target
from molmtl.training.evaluate import (
    delta_m,
    read_stl_maes,
    target_metrics,
    write_evaluation,
)
from molmtl.training.protocols import LIBMTL_STL_MAE


def test_delta_m_known_numbers():
    dm, per = delta_m({"a": 1.1, "b": 0.5, "c": 3.0}, {"a": 1.0, "b": 1.0, "c": 2.0, "d": 9.0})
    assert per == pytest.approx({"a": 10.0, "b": -50.0, "c": 50.0})
    assert dm == pytest.approx(10.0 / 3)
    # Nash-MTL's own numbers: every task 58.5 % worse than STL gives Delta_m = 58.5 %
    worse = {k: v * 1.585 for k, v in LIBMTL_STL_MAE.items()}
    assert delta_m(worse, LIBMTL_STL_MAE)[0] == pytest.approx(58.5)
    with pytest.raises(InputError):
        delta_m({"a": 1.0}, {"b": 1.0})
    with pytest.raises(InputError):
        delta_m({"a": 1.0}, {"a": 0.0})


def test_target_metrics_display_units_and_nan_mask():
    targets = [get_target("U0"), get_target("mu")]
    y = np.array([[-10.0, 1.0], [-20.0, np.nan], [-30.0, 3.0]])
    p = np.array([[-10.1, 1.5], [-19.8, 100.0], [-30.0, 2.5]])
    rows = target_metrics(targets, y, p)
    assert rows[0]["unit"] == "meV" and rows[0]["mae"] == pytest.approx(100.0)  # (0.1+0.2+0)/3 eV
    assert rows[0]["ratio"] == pytest.approx(100.0 / 43.0)
    assert rows[1]["n"] == 2 and rows[1]["mae"] == pytest.approx(0.5) and rows[1]["unit"] == "D"
    assert rows[1]["ratio"] == pytest.approx(5.0)
    # RMSE in display units, R^2 = 1 - SSE/SST over the labelled molecules
    assert rows[0]["rmse"] == pytest.approx(1000.0 * np.sqrt((0.01 + 0.04 + 0.0) / 3))
    assert rows[0]["r2"] == pytest.approx(1.0 - 0.05 / 200.0)  # SST = 100 + 0 + 100 eV^2
    assert rows[1]["rmse"] == pytest.approx(0.5) and rows[1]["r2"] == pytest.approx(1.0 - 0.5 / 2.0)
    one = target_metrics([get_target("mu")], np.array([[1.0], [np.nan]]), np.array([[1.5], [0.0]]))[0]
    assert one["n"] == 1 and one["r2"] is None and one["rmse"] == pytest.approx(0.5)


def test_write_evaluation_files(tmp_path):
    targets = [get_target("homo"), get_target("A")]
    rng = np.random.default_rng(0)
    y = rng.normal(size=(20, 2))
    p = y + 0.01
    result = write_evaluation(tmp_path, targets, y, p, stl={"homo": 5.0, "A": 0.02})
    assert result["delta_m_percent"] == pytest.approx(((10.0 - 5.0) / 5.0 * 100 + (0.01 - 0.02) / 0.02 * 100) / 2)
    body = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["key"] for r in body["targets"]] == ["homo", "A"] and body["targets"][1]["ratio"] is None
    md = (tmp_path / "metrics.md").read_text()
    assert "MAE [unit]" in md and "STL MAE [unit]" in md and "| homo | meV |" in md and "Delta_m" in md
    assert (tmp_path / "parity.png").read_bytes()[:4] == b"\x89PNG"
    assert read_stl_maes(tmp_path) == pytest.approx({"homo": 10.0, "A": 0.01})
    write_evaluation(tmp_path / "val", targets, y, p, meta={"part": "val"})
    assert read_stl_maes(tmp_path / "val", "val") == pytest.approx({"homo": 10.0, "A": 0.01})
    with pytest.raises(InputError, match="val metrics"):  # Delta_m of test MAEs against val MAEs
        read_stl_maes(tmp_path / "val", "test")
    (tmp_path / "plain.json").write_text(json.dumps({"homo": 2.0}))
    assert read_stl_maes(tmp_path / "plain.json") == {"homo": 2.0}
