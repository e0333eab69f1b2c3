"""QM9 with RDKit geometries (``train --geometry rdkit``): the cache, the swap, a run, predictions."""

import numpy as np
import pytest
from trainhelp import tiny_config

from molmtl.chem.parse import from_smiles
from molmtl.data import rdkit_qm9
from molmtl.data.rdkit_qm9 import prepare_rdkit_geometries, with_rdkit_geometries

UNEMBEDDABLE, CAGE = 34308, 40182  # QM9 35350 (no RDKit embedding), 41303 (the heavy-atom fallback)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    real = rdkit_qm9.cache_dir
    monkeypatch.setattr(rdkit_qm9, "cache_dir", lambda folder=None: real(folder or tmp_path))
    return tmp_path


def test_rdkit_geometries_replace_qm9s_and_keep_its_labels(qm9, cache):
    rows = [0, 5, 1000, UNEMBEDDABLE, CAGE]
    path = prepare_rdkit_geometries(qm9=qm9, rows=rows)
    assert path.parent == cache and path.stat().st_size < 1_000_000  # offsets for all, atoms for 4
    swapped, has = with_rdkit_geometries(qm9)
    assert has.sum() == 4 and has[[0, 5, 1000, CAGE]].all() and not has[UNEMBEDDABLE] and not has[1]
    assert len(swapped) == len(qm9) and np.array_equal(swapped.n_atoms, qm9.n_atoms)
    for r in (5, CAGE):  # the store's geometry (what predict gives the SMILES), QM9's labels
        mine = swapped.molecule(r)
        ref = from_smiles(qm9.canonical_smiles[r])
        assert np.array_equal(mine.atomic_numbers, ref.atomic_numbers)
        assert np.allclose(mine.positions, ref.positions, atol=1e-5)
        assert not np.allclose(np.sort(mine.positions[:, 0]), np.sort(qm9.molecule(r).positions[:, 0]), atol=1e-3)
    keep = np.flatnonzero(has)
    assert np.allclose(swapped.subset(keep).targets, qm9.subset(keep).targets)  # atomization energies included
    assert np.array_equal(swapped.molecule(1).positions, qm9.molecule(1).positions)  # no geometry: QM9's, masked


def test_a_run_on_rdkit_geometries_and_its_predictions(qm9, cache, tmp_path):

    from molmtl.methods.ml import MLMethod
    from molmtl.training.run import train

    cfg = tiny_config(geometry="rdkit", max_molecules=24)
    split = cfg.split_for(len(qm9), qm9.canonical_smiles)
    rows = np.concatenate([split.train, split.val, split.test])
    from molmtl.errors import InputError

    prepare_rdkit_geometries(qm9=qm9, rows=[r for r in (0, 1) if r not in rows])  # none of the split's
    with pytest.raises(InputError, match="no training molecule is left with an RDKit geometry"):
        train(cfg, tmp_path / "none", progress=False)
    prepare_rdkit_geometries(qm9=qm9, rows=rows[1:], force=True)  # the first training molecule has none: left out
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.model.config.geometry == "rdkit" and np.isfinite(result.metrics["val_loss"])
    method = MLMethod(str(result.model_path), lookup=False)
    smi = method.run(from_smiles(qm9.canonical_smiles[int(rows[2])]))
    assert not any("not from B3LYP" in w for w in smi.warnings)
    own = method.run(qm9.molecule(int(rows[2])))
    assert any("trained on RDKit (ETKDG + MMFF) geometries" in w for w in own.warnings)


def test_geometry_option_is_checked(tmp_path):
    from molmtl.cli import main
    from molmtl.errors import InputError

    with pytest.raises(InputError, match="geometry must be one of qm9, rdkit"):
        tiny_config(geometry="mmff")
    with pytest.raises(InputError, match="for QM9 runs"):
        tiny_config(geometry="rdkit", data="x.csv")
    assert tiny_config().geometry == "qm9"
    assert main(["train", "--geometry", "b3lyp", "--out", str(tmp_path / "r")]) == 2


def test_evaluate_a_qm9_geometry_model_on_rdkit_geometries(qm9, cache, tmp_path):
    # what a model trained on B3LYP geometries makes of SMILES input, on its own test molecules

    from molmtl.cli import main
    from molmtl.training.run import train

    cfg = tiny_config(max_molecules=24, epochs=1)
    split = cfg.split_for(len(qm9), qm9.canonical_smiles)
    prepare_rdkit_geometries(qm9=qm9, rows=np.asarray(split.test)[1:])  # one test molecule without
    train(cfg, tmp_path / "run", progress=False)
    assert main(["-q", "evaluate", str(tmp_path / "run"), "--geometry", "rdkit"]) == 0
    import json

    own = json.loads((tmp_path / "run" / "eval-test" / "metrics.json").read_text()) if (tmp_path / "run" / "eval-test").is_dir() else None
    body = json.loads((tmp_path / "run" / "eval-test-rdkit" / "metrics.json").read_text())
    has = with_rdkit_geometries(qm9)[1]
    assert own is None and body["n_molecules"] == int(has[split.test].sum()) == len(split.test) - 2  # one unembeddable
    assert body["geometry"] == "RDKit ETKDG + MMFF from SMILES"
    assert main(["-q", "evaluate", str(tmp_path / "run"), "--geometry", "xtb"]) == 2
