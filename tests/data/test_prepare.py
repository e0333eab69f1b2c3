"""Building the cache from qm9pack-format CSVs (a tiny excerpt of the real files)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from molmtl.data.qm9 import load_qm9, prepare_qm9, qm9pack_data_dir
from molmtl.errors import InputError, NotFoundError


@pytest.fixture
def tiny_source(tmp_path):
    """The first rows of each qm9pack CSV (methane ... and the first rows of parts 2, 3)."""
    real = qm9pack_data_dir()
    src = tmp_path / "src"
    src.mkdir()
    for name, rows in (("qm9_part1.csv", 6), ("qm9_part2.csv", 2), ("qm9_part3.csv", 2), ("qm9_polarizability.csv", 200_000)):
        with open(real / name) as fh:
            lines = list(itertools.islice(fh, rows + 1))
        (src / name).write_text("".join(lines))
    return src


def test_prepare_and_load(tiny_source, tmp_path):
    out = prepare_qm9(tmp_path / "cache", source=tiny_source)
    ds = load_qm9(tmp_path / "cache", prepare=False)
    assert len(ds) == 10
    assert ds.qm9_index[:3].tolist() == [1, 2, 3]
    assert ds.raw_record(0)["U0"] == -40.47893
    assert ds.inchikey[0] == "VNWKTOKETHGBQD-UHFFFAOYSA-N"
    assert ds.extras(0)["frequencies_cm1"].shape == (9,)
    mtime = out.stat().st_mtime_ns
    assert prepare_qm9(tmp_path / "cache", source=tiny_source) == out and out.stat().st_mtime_ns == mtime  # no rebuild
    assert not list((tmp_path / "cache").glob(".*"))  # no temporary files left behind


def test_missing_and_corrupt_cache(tmp_path):
    with pytest.raises(NotFoundError, match="molmtl data prepare"):
        load_qm9(tmp_path, prepare=False)
    (tmp_path / "qm9-v1.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="unreadable"):
        load_qm9(tmp_path, prepare=False)
    np.savez(tmp_path / "qm9-v1.npz", raw_keys=np.array(["x"]))
    with pytest.raises(InputError, match="another molmtl version"):
        load_qm9(tmp_path, prepare=False)


def test_unusable_cache_directory_is_one_sentence(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="cannot create the cache directory"):
        prepare_qm9(tmp_path / "a_file" / "cache")
