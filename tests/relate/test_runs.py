"""A study's trainings: one folder per configuration, a finished one kept, an interrupted one
continued from its last checkpoint, a failed one reported after the others ran."""

import json

import pytest

from molmtl.config import TrainConfig
from molmtl.errors import CalculationError
from molmtl.relate.gains import pair_spec, single_spec
from molmtl.relate.runs import RECORD, RunSpec, train_one, train_runs

TINY = TrainConfig(tasks=("U0", "homo"), encoder="gcn", encoder_hp={"hidden": 8}, max_molecules=24, batch_size=12,
                   epochs=1, accelerator="cpu", loss="l1")


def test_the_folder_is_named_by_label_and_configuration(tmp_path):
    a, b = single_spec(TINY, "U0", 0), single_spec(TINY, "U0", 1)
    assert a.folder(tmp_path).name.startswith("single-U0-seed0-") and a.key != b.key
    assert single_spec(TINY.replace(weighting="dwa"), "U0", 0).key == a.key  # one task: the weighting is moot
    assert pair_spec(TINY, "U0", "homo", 0).config.strategy == "hard"


def test_an_interrupted_run_is_continued_and_a_finished_one_kept(tmp_path):
    spec = single_spec(TINY.replace(epochs=2), "homo", 0)
    folder = spec.folder(tmp_path)
    first = train_one(spec.config.to_dict(), str(folder))
    assert first["resumed"] is False and first["epochs"] >= 1
    (folder / RECORD).unlink()  # as if the process died after the last checkpoint, before its record
    (folder / "model.pt").unlink()
    again = train_one(spec.config.to_dict(), str(folder))
    assert again["resumed"] is True and (folder / "model.pt").is_file()
    stamp = (folder / RECORD).stat().st_mtime_ns
    outcomes = train_runs([spec], tmp_path, progress=False)
    assert outcomes[spec.label].kept and (folder / RECORD).stat().st_mtime_ns == stamp
    assert json.loads((folder / RECORD).read_text())["test"].keys() == {"homo"}


def test_a_failed_run_is_reported_after_the_others_finish(tmp_path):
    good = single_spec(TINY, "U0", 0)
    bad = RunSpec("broken", TINY.replace(tasks=("U0",), data=str(tmp_path / "absent.csv")))
    with pytest.raises(CalculationError, match="1 of 2 .* runs failed .*broken"):
        train_runs([bad, good], tmp_path, progress=False, desc="test")
    assert (good.folder(tmp_path) / RECORD).is_file()
