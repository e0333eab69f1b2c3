"""Splits: the standard QM9 split, determinism, scaffold split, files, subsets."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.data.splits import (
    Split,
    make_split,
    random_split,
    scaffold_split,
    split_counts,
)
from molmtl.errors import InputError, NotFoundError


def test_standard_split_sizes_and_determinism():
    s = random_split(130_831)
    assert s.sizes() == (110_000, 10_000, 10_831)
    np.testing.assert_array_equal(s.train[:3], np.random.RandomState(42).permutation(130_831)[:3])
    assert random_split(130_831).id == s.id
    assert random_split(130_831, seed=1).id != s.id
    assert len(np.unique(np.concatenate([s.train, s.val, s.test]))) == 130_831


def test_small_dataset_falls_back_to_fractions():
    assert random_split(100).sizes() == (80, 10, 10)


def test_head_and_file_round_trip(tmp_path):
    s = random_split(1000).head(50, 10, 5)
    assert s.sizes() == (50, 10, 5)
    path = s.save(tmp_path / "split.json")
    back = Split.load(path)
    assert back.id == s.id and back.n == 1000
    assert make_split(str(path), 1000).id == s.id
    with pytest.raises(InputError, match="is for 1000 molecules"):
        make_split(str(path), 999)


def test_bad_split_inputs(tmp_path):
    with pytest.raises(NotFoundError):
        Split.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a molmtl split file"):
        Split.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    with pytest.raises(InputError, match="not a molmtl split file"):
        Split.load(tmp_path / "list.json")
    with pytest.raises(InputError, match="more than one part"):
        Split("x", 10, [1, 2], [2], [3])
    with pytest.raises(InputError, match="unknown split"):
        make_split("stratified", 10)
    with pytest.raises(InputError, match="seed"):
        make_split("random:abc", 10)


def test_scaffold_split_keeps_scaffolds_together():
    smiles = ["c1ccccc1C", "c1ccccc1O", "c1ccccc1N", "C1CCCCC1C", "C1CCCCC1O", "CCO", "CCN", "C1CC1C", "C1CC1O", "C1CC1N"]
    s = scaffold_split(smiles, fractions=(0.5, 0.2))
    assert sorted(np.concatenate([s.train, s.val, s.test]).tolist()) == list(range(10))
    from molmtl.data.splits import murcko_scaffold

    part_of = {}
    for name in ("train", "val", "test"):
        for i in getattr(s, name):
            part_of.setdefault(murcko_scaffold(smiles[i]), set()).add(name)
    assert all(len(parts) == 1 for parts in part_of.values())
    assert s.id == scaffold_split(smiles, fractions=(0.5, 0.2)).id


def test_split_sizes_as_fractions_or_counts(tmp_path):
    assert make_split("random", 100, sizes=(0.5, 0.25)).sizes() == (50, 25, 25)
    assert make_split("random:3", 100, sizes=(10, 5)).sizes() == (10, 5, 85)
    assert make_split("random", 100, sizes=(0.7, 0.1)).sizes() == (70, 10, 20)  # no float rounding down to 69
    assert make_split("random", 10, sizes=[0.8, 0.2]).sizes() == (8, 2, 0)
    assert split_counts((0.0, 0.5), 7) == (0, 3)
    # the standard rows, cut at other sizes: the same permutation, seed 42
    np.testing.assert_array_equal(make_split("random", 130_831, sizes=(1000, 10)).train, random_split(130_831).train[:1000])
    smiles = ["c1ccccc1C", "c1ccccc1O", "c1ccccc1N", "C1CCCCC1C", "C1CCCCC1O", "CCO", "CCN", "C1CC1C", "C1CC1O", "C1CC1N"]
    s = make_split("scaffold", 10, smiles=smiles, sizes=(0.5, 0.2))
    assert s.id == scaffold_split(smiles, (0.5, 0.2)).id
    assert make_split("scaffold", 10, smiles=smiles, sizes=(5, 2)).id == s.id  # counts as fractions of 10
    for bad, words in [((0.9, 0.2), "exceed 1"), ((100, 5), "more than the 100"), ((-1, 5), ">= 0"),
                       ((0.8,), "two numbers"), ((float("nan"), 0.1), ">= 0"), ((True, 1), ">= 0")]:
        with pytest.raises(InputError, match=words):
            make_split("random", 100, sizes=bad)
    random_split(100).save(tmp_path / "s.json")
    with pytest.raises(InputError, match="not to the split file"):
        make_split(str(tmp_path / "s.json"), 100, sizes=(0.8, 0.1))
