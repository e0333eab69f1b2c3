"""Short CPU runs through the real encoders, strategies and balancers."""


import numpy as np
import pytest
import torch
from trainhelp import TASKS, tiny_config

from molmtl.data.batching import collate
from molmtl.inference import load_model, predict_dataset, read_model_file
from molmtl.training.data import load_training_data
from molmtl.training.run import train

STRATEGY_HP = {
    "single": {}, "hard": {"group_lasso": 1e-3}, "soft": {"lam": 0.1}, "cross-stitch": {}, "mrn": {},
    "clustered": {"groups": [["U0", "homo"], ["mu"]]},
}


@pytest.mark.parametrize("strategy", list(STRATEGY_HP))
def test_each_strategy_trains_and_round_trips(tmp_path, strategy):
    cfg = tiny_config(strategy=strategy, strategy_hp=STRATEGY_HP[strategy])
    result = train(cfg, tmp_path, progress=False)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and (tmp_path / "logs" / "version_0" / "metrics.csv").is_file()
    assert any((tmp_path / "tensorboard").iterdir())
    loaded = load_model(result.model_path)
    assert loaded.keys == TASKS
    data = load_training_data(cfg, graph=False, geometry=True)
    y1, p1 = predict_dataset(result.model, data.test)
    y2, p2 = predict_dataset(loaded, data.test)
    np.testing.assert_allclose(p1, p2, rtol=1e-6, atol=1e-6)
    assert np.isfinite(p2).all()
    stored = {r["key"]: r["mae"] for r in result.metrics["test"]}
    direct = np.abs(p2 - y2).mean(axis=0) * np.array([1000.0, 1000.0, 1.0])  # meV, meV, D
    np.testing.assert_allclose([stored[k] for k in TASKS], direct, rtol=1e-6)
    body = read_model_file(result.model_path)
    assert body["split"]["id"] == data.split.id and body["config"]["strategy"] == strategy


def test_overfit_one_batch_lowers_loss():
    """One batch of eight molecules, 40 steps through MTLModule: the loss must fall far below its start."""
    import lightning as L

    from molmtl.inference import build_strategy
    from molmtl.training.data import fit_scaler
    from molmtl.training.datamodule import MolDataModule
    from molmtl.training.module import MTLModule
    from molmtl.training.run import build_balancer

    cfg = tiny_config(max_molecules=8, batch_size=8, epochs=40, lr=1e-2, warmup_epochs=0, min_lr_ratio=1.0,
                      grad_clip=None, encoder_hp={"hidden": 32, "num_layers": 2, "n_rbf": 8})
    L.seed_everything(0, verbose=False)
    data = load_training_data(cfg, graph=False, geometry=True)
    module = MTLModule(cfg, build_strategy(cfg), build_balancer(cfg), fit_scaler(data.train, data.targets), 1)
    losses = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(trainer.callback_metrics["train_loss"]))

    trainer = L.Trainer(max_epochs=cfg.epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        limit_val_batches=0, enable_progress_bar=False, enable_model_summary=False, callbacks=[Record()])
    trainer.fit(module, datamodule=MolDataModule(data, batch_size=8, graph=False, geometry=True))
    assert len(losses) == 40
    assert min(losses[-5:]) < 0.4 * losses[0], losses


@pytest.mark.parametrize("weighting", ["uw", "famo", "upgrad", "gradnorm"])
def test_balancers_with_hard_sharing(tmp_path, weighting):
    result = train(tiny_config(weighting=weighting, max_molecules=16), tmp_path, progress=False)
    assert all(np.isfinite(r["mae"]) for r in result.metrics["test"])


def test_resume_continues_from_last_checkpoint(tmp_path):
    cfg = tiny_config(epochs=1, max_molecules=16)
    first = train(cfg, tmp_path, progress=False)
    assert first.metrics["epochs"] == 1
    steps = first.metrics["global_step"]
    second = train(cfg.replace(epochs=2), tmp_path, resume=True, progress=False)
    assert second.metrics["epochs"] == 2 and second.metrics["global_step"] == 2 * steps
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["epoch"] == 1  # 0-based: the second epoch


def test_csv_with_missing_labels_trains(tmp_path):
    from molmtl.data.qm9 import load_qm9

    qm9 = load_qm9().subset(np.arange(40))
    lines = ["smiles,homo,U0 [meV]"]
    for i in range(40):
        homo = "" if i % 3 == 0 else f"{qm9.targets[i, 2]:.6f}"
        u0 = "" if i % 4 == 1 else f"{qm9.targets[i, 7] * 1000:.3f}"
        lines.append(f"{qm9.canonical_smiles[i]},{homo},{u0}")
    (tmp_path / "mols.csv").write_text("\n".join(lines) + "\n")
    from molmtl.data.splits import Split

    Split("mine", 40, np.arange(28), np.arange(28, 34), np.arange(34, 40)).save(tmp_path / "split.json")
    cfg = tiny_config(data=str(tmp_path / "mols.csv"), tasks=("homo", "U0"), encoder="gcn",
                      encoder_hp={"hidden": 16, "num_layers": 1}, split=str(tmp_path / "split.json"),
                      max_molecules=None, batch_size=8)
    result = train(cfg, tmp_path / "run", progress=False)
    test = {r["key"]: r for r in result.metrics["test"]}
    assert test["homo"]["n"] == 4 and test["U0"]["n"] == 5  # rows 34..39 minus the blank cells
    assert np.isfinite(test["homo"]["mae"]) and result.metrics["epochs"] == 1
    assert np.isfinite(result.metrics["val_loss"])
    assert load_model(tmp_path / "run").needs_graph


def test_csv_with_a_users_own_target_trains_and_reloads(tmp_path):
    from molmtl.data.qm9 import load_qm9

    qm9 = load_qm9().subset(np.arange(40))
    lines = ["smiles,logS [log mol/L],homo"]
    for i in range(40):
        lines.append(f"{qm9.canonical_smiles[i]},{qm9.targets[i, 1] / 10:.4f},{qm9.targets[i, 2]:.6f}")
    (tmp_path / "mols.csv").write_text("\n".join(lines) + "\n")
    cfg = tiny_config(data=str(tmp_path / "mols.csv"), tasks=("logS", "homo"), encoder="gcn",
                      encoder_hp={"hidden": 16, "num_layers": 1}, max_molecules=None, batch_size=8, split="random")
    result = train(cfg, tmp_path / "run", progress=False)
    test = {r["key"]: r for r in result.metrics["test"]}
    assert np.isfinite(test["logS"]["mae"]) and test["logS"]["n"] == 4
    model = load_model(tmp_path / "run")
    assert [t.key for t in model.targets] == ["logS", "homo"]
    assert model.targets[0].unit == "log mol/L" and model.targets[0].index == -1


HALOGEN_SMILES = ["CCl", "CBr", "ClCCl", "BrCBr", "ClCCBr", "CCCl", "CCBr", "OCCl", "NCCBr", "ClC(Cl)Cl",
                  "BrC(Br)Br", "CC(Cl)C", "CC(Br)C", "ClCCCCl", "BrCCCBr", "OC(Cl)CO", "NC(Br)C", "ClC=CCl",
                  "BrC=CBr", "ClC#CBr", "CCO", "CCN", "CCC", "CO", "CN", "OCCO", "NCCN", "CC(C)O", "ClCC(Cl)CBr",
                  "BrCC(O)CCl", "ClCCN", "BrCCO"]


def test_csv_with_chlorine_and_bromine_grows_the_element_tables(tmp_path):
    """A user's CSV beyond QM9's elements: the model's element set grows to Cl and Br, PaiNN's
    embedding and the heads' offsets to Z = 35, and the per-element references of an additive
    label (sums of per-element constants) come back exactly, Cl and Br included."""
    from rdkit import Chem

    from molmtl.chem.parse import from_smiles
    from molmtl.errors import UnsupportedMoleculeError
    from molmtl.methods.ml import MLMethod

    per_atom = {1: -0.5, 6: -1.0, 7: -1.5, 8: -2.0, 17: -12.0, 35: -70.0}  # eV
    lines = ["smiles,U0 [eV],logS"]
    for i, smi in enumerate(HALOGEN_SMILES):
        mol = Chem.AddHs(Chem.MolFromSmiles(smi))
        lines.append(f"{smi},{sum(per_atom[a.GetAtomicNum()] for a in mol.GetAtoms()):.4f},{(i % 7) / 7:.4f}")
    (tmp_path / "halo.csv").write_text("\n".join(lines) + "\n")
    cfg = tiny_config(data=str(tmp_path / "halo.csv"), tasks=("U0", "logS"), max_molecules=None, batch_size=8,
                      split="random")
    result = train(cfg, tmp_path / "run", progress=False)
    model = load_model(tmp_path / "run")
    assert model.config.elements == (1, 6, 7, 8, 9, 17, 35) and model.config.max_z == 35
    assert model.strategy.encoder.embedding.num_embeddings == 36
    ref = model.scaler.ref[0].numpy()
    for z, e in per_atom.items():
        assert ref[z] == pytest.approx(e, abs=1e-6), z
    # so U0 is the references plus the network's small normalized part: far below the label spread
    u0 = {r["key"]: r for r in result.metrics["test"]}["U0"]
    assert u0["mae"] < 0.05 * 1000 * np.ptp([float(line.split(",")[1]) for line in lines[1:]])  # meV
    method = MLMethod(str(tmp_path / "run"), lookup=False)
    pred = method.run(from_smiles("BrCCCl"))
    assert np.isfinite(list(pred.properties.values())).all() and not any("QM9" in w for w in pred.warnings)
    assert pred.units["logS"] == "" and "U0" in pred.properties
    with pytest.raises(UnsupportedMoleculeError, match="contains S, which the ML model"):
        method.run(from_smiles("CCS"))
    # the 2D encoders one-hot the same elements: Cl and Br get slots of their own, not "other"
    gcn = train(cfg.replace(encoder="gcn", encoder_hp={"hidden": 16, "num_layers": 1}), tmp_path / "gcn",
                progress=False).model
    from molmtl.chem.features import atom_feature_dim, graph_from_smiles

    width = atom_feature_dim((1, 6, 7, 8, 9, 17, 35))
    assert width == atom_feature_dim() + 2 and gcn.config.elements == model.config.elements
    assert gcn.strategy.encoder.lin_in.in_features == width
    x = graph_from_smiles("ClCBr", gcn.config.elements).x  # Cl, C, Br: slots 5, 1, 6 of 8 (7 = other)
    assert x.shape == (3, width) and x[:, :8].argmax(1).tolist() == [5, 1, 6]
    gcn_pred = MLMethod(str(tmp_path / "gcn"), lookup=False).run(from_smiles("BrCCCl", embed=False))
    assert np.isfinite(list(gcn_pred.properties.values())).all()
    (tmp_path / "na.csv").write_text("smiles,logS\n[Na+].[Cl-],1.0\n" + "CCO,2.0\n" * 12)
    with pytest.raises(UnsupportedMoleculeError, match="contains Na, which molmtl training .elements H, B, C"):
        train(cfg.replace(data=str(tmp_path / "na.csv"), tasks=("logS",)), tmp_path / "na", progress=False)


def test_csv_molecules_rdkit_cannot_embed_are_left_out_not_the_run(tmp_path, caplog):
    # a 3D encoder on a user's CSV: one strained cage no embedding attempt places (it stopped the
    # whole run before), one that only the heavy-atom fallback places, the rest ordinary
    unembeddable, cage = "N#CC1OC23CC(C2)C13", "C1C2OC34COC3C2C14"
    smiles = [unembeddable, cage, *["C" * k + "O" for k in range(1, 9)], *["C" * k + "N" for k in range(1, 9)]]
    lines = ["smiles,logS"] + [f"{smi},{i / 10:.2f}" for i, smi in enumerate(smiles)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    cfg = tiny_config(data=str(tmp_path / "m.csv"), tasks=("logS",), max_molecules=None, split_sizes=(0.8, 0.1))
    with caplog.at_level("WARNING"):
        data = load_training_data(cfg, graph=False, geometry=True)
    assert "1 of 18 molecules of" in caplog.text and unembeddable in caplog.text
    parts = (data.train, data.val, data.test)
    assert sum(len(p) for p in parts) == 17 and sum(len(s) for s in (data.split.train, data.split.val, data.split.test)) == 18
    labels = np.concatenate([p.y[:, 0] for p in parts])  # row i has label i / 10: the cage is in, row 0 is out
    assert 0.1 in labels and 0.0 not in labels
    for part, rows in zip(parts, (data.split.train, data.split.val, data.split.test)):  # labels follow their molecules
        kept = [r for r in rows if smiles[r] != unembeddable]
        assert np.allclose(part.y[:, 0], [r / 10 for r in kept])
    assert np.isfinite(train(cfg, tmp_path / "run", progress=False).metrics["val"][0]["mae"])


def test_config_elements_are_checked():
    from molmtl.errors import InputError

    assert tiny_config().elements == (1, 6, 7, 8, 9) and tiny_config().max_z == 10
    assert tiny_config(elements=[17, 1, 6, 6]).elements == (1, 6, 17)
    with pytest.raises(InputError, match="Fe|26"):
        tiny_config(elements=(1, 6, 26))


def test_mrn_run_reports_its_task_covariance(tmp_path):
    """The issue's "report the learned task covariance as a T x T matrix": written beside the model
    file and by ``evaluate``, equal to the strategy's own, symmetric, trace T."""
    from molmtl.training.evaluate import evaluate_model

    cfg = tiny_config(strategy="mrn", strategy_hp={"lam": 1e-2, "update_every": 1}, epochs=2, max_molecules=32,
                      batch_size=8)
    result = train(cfg, tmp_path / "run", progress=False)
    cov = result.model.strategy.task_covariance(0)
    assert not np.allclose(cov, np.eye(len(TASKS)))  # updated from the identity it starts at
    lines = (tmp_path / "run" / "task_covariance_0.csv").read_text().splitlines()
    assert lines[0] == "task," + ",".join(TASKS) and [r.split(",")[0] for r in lines[1:]] == list(TASKS)
    written = np.array([[float(v) for v in r.split(",")[1:]] for r in lines[1:]])
    np.testing.assert_allclose(written, cov, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(written, written.T, atol=1e-5)
    assert np.trace(written) == pytest.approx(len(TASKS), rel=1e-4)
    assert (tmp_path / "run" / "task_correlation.png").stat().st_size > 1000
    evaluate_model(load_model(tmp_path / "run"), "test", tmp_path / "ev")
    assert (tmp_path / "ev" / "task_covariance_0.csv").read_text() == "\n".join(lines) + "\n"
    hard = train(tiny_config(max_molecules=16), tmp_path / "hard", progress=False)
    assert hard.model_path.is_file() and not (tmp_path / "hard" / "task_covariance.md").exists()


def test_task_weights_scale_each_tasks_loss(tmp_path):
    """A task of weight 0 gets no gradient (its head keeps its initial weights under Adam), and the
    monitored validation loss is the weighted mean of the per-task ones."""
    from molmtl.errors import InputError
    from molmtl.inference import build_strategy

    cfg = tiny_config(task_weights={"mu": 0.0, "U0": 3.0}, epochs=2, max_molecules=16, batch_size=8)
    result = train(cfg, tmp_path / "run", progress=False)
    import lightning as L

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    initial = build_strategy(cfg).state_dict()  # the run's initial weights: same seed, same build order
    trained = result.model.strategy.state_dict()
    mu_head = [k for k in trained if ".t_mu." in k]
    assert mu_head and all(torch.equal(trained[k], initial[k]) for k in mu_head)
    assert not torch.equal(trained["heads.heads.t_homo.mlp.0.weight"], initial["heads.heads.t_homo.mlp.0.weight"])
    per = result.metrics["val_loss_per_task"]
    assert result.metrics["val_loss"] == pytest.approx((3 * per["U0"] + per["homo"]) / 4)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    monitored = [v["best_model_score"] for k, v in ckpt["callbacks"].items() if "'val_loss'" in k and "ModelCheckpoint" in k]
    assert float(monitored[0]) == pytest.approx(result.metrics["val_loss"], rel=1e-5)
    for bad in ({"gap": 1.0}, {"mu": -1.0}, {"U0": 0, "homo": 0, "mu": 0}):
        with pytest.raises(InputError):
            tiny_config(task_weights=bad)


def test_zscore_normalization_is_mean_std(tmp_path):
    from molmtl.training.data import fit_scaler

    cfg = tiny_config(max_molecules=32)
    data = load_training_data(cfg, graph=False, geometry=True)
    scaler = fit_scaler(data.train, data.targets, "zscore")
    y = data.train.y
    dipole = np.array([t.readout == "dipole" for t in data.targets])
    # mean and std, except a dipole norm: never shifted, divided by its RMS
    np.testing.assert_allclose(scaler.shift.numpy()[~dipole], y.mean(0)[~dipole], rtol=1e-10)
    np.testing.assert_allclose(scaler.scale.numpy()[~dipole], y.std(0, ddof=1)[~dipole], rtol=1e-10)
    np.testing.assert_allclose(scaler.shift.numpy()[dipole], 0.0)
    np.testing.assert_allclose(scaler.scale.numpy()[dipole], np.sqrt((y[:, dipole] ** 2).mean(0)), rtol=1e-10)
    batch = collate([data.train[i] for i in range(len(data.train))], graph=False, geometry=True)
    z = scaler.normalize(batch.y, batch)
    assert abs(float(z[:, ~dipole].mean())) < 1e-5


def test_same_seed_same_model_and_bf16_runs(tmp_path):
    cfg = tiny_config(max_molecules=16)
    a = train(cfg, tmp_path / "a", progress=False)
    b = train(cfg, tmp_path / "b", progress=False)
    assert [r["mae"] for r in a.metrics["test"]] == [r["mae"] for r in b.metrics["test"]]
    c = train(cfg.replace(precision="bf16-mixed"), tmp_path / "c", progress=False)  # autocast on CPU
    assert all(np.isfinite(r["mae"]) for r in c.metrics["test"])


def test_padded_loader_covers_every_molecule_once_per_epoch_and_shards():
    from molmtl.data.batching import PaddedDataset
    from molmtl.data.qm9 import load_qm9
    from molmtl.training.datamodule import PaddedLoader

    data = PaddedDataset.from_qm9(load_qm9().subset(np.arange(23)), ["U0"])
    loader = PaddedLoader(data, 5, shuffle=True, seed=3)
    assert len(loader) == 5
    first = torch.cat([b.y[:, 0] for b in loader])
    second = torch.cat([b.y[:, 0] for b in loader])
    assert sorted(first.tolist()) == sorted(data.y[:, 0].tolist()) and not torch.equal(first, second)
    shards = [torch.cat([b.y[:, 0] for b in PaddedLoader(data, 4, shuffle=True, seed=3, rank=r, world=2)]) for r in (0, 1)]
    # padded like DistributedSampler: equal shards, every molecule at least once, one repeated
    assert len(shards[0]) == 12 and len(shards[1]) == 12
    both = torch.cat(shards).tolist()
    assert set(both) == set(data.y[:, 0].tolist()) and len(set(both)) == 23


def test_padded_loader_gives_every_ddp_process_the_same_number_of_steps():
    """Unequal step counts per process would hang DDP's gradient all-reduce."""
    from molmtl.data.batching import PaddedDataset
    from molmtl.data.qm9 import load_qm9
    from molmtl.training.datamodule import PaddedLoader

    data = PaddedDataset.from_qm9(load_qm9().subset(np.arange(9)), ["U0"])
    for world, bs in ((2, 1), (4, 2), (3, 4), (16, 1)):
        loaders = [PaddedLoader(data, bs, shuffle=True, seed=1, rank=r, world=world) for r in range(world)]
        steps = [len(list(iter(ld))) for ld in loaders]
        assert steps == [len(ld) for ld in loaders] and len(set(steps)) == 1, (world, bs, steps)
        seen = torch.cat([b.y[:, 0] for ld in loaders for b in ld])
        assert set(seen.tolist()) == set(data.y[:, 0].tolist())


def test_device_data_training_path(tmp_path):
    result = train(tiny_config(device_data=True, max_molecules=16), tmp_path, progress=False)
    assert result.metrics["global_step"] == 1 and all(np.isfinite(r["mae"]) for r in result.metrics["test"])
    from molmtl.errors import InputError

    with pytest.raises(InputError):
        train(tiny_config(device_data=True, encoder="gcn", encoder_hp={"hidden": 8}), tmp_path / "g", progress=False)


def test_early_stopping_stops_when_validation_stalls(tmp_path):
    # lr 1e-30: the weights do not move, the validation loss cannot improve, patience 1 ends epoch 2
    result = train(tiny_config(max_molecules=8, epochs=5, lr=1e-30, early_stopping=1), tmp_path, progress=False)
    assert result.metrics["epochs"] == 2


def test_devices_this_machine_lacks_are_an_input_error(tmp_path):
    from molmtl.errors import InputError

    with pytest.raises(InputError, match="devices"):  # Lightning's TypeError: CPU devices must be a count
        train(tiny_config(max_molecules=8, devices="0,1"), tmp_path, progress=False)
