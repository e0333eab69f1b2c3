"""Training data: QM9 or a user CSV, cut by a split, as a LightningDataModule.

:func:`load_training_data` reads the source a :class:`~molmtl.training.config.TrainConfig` names,
makes the split (``molmtl.data.splits``), and builds one :class:`~molmtl.data.batching.MolDataset`
per split part (only the rows a run uses are featurized); :func:`fit_scaler` fits the target
normalization on the training part alone. Everything here pickles (DDP, DataLoader workers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from molmtl.chem.elements import symbols_text
from molmtl.data.batching import MolDataset, collate, make_collate
from molmtl.data.splits import Split
from molmtl.errors import InputError
from molmtl.targets import Target, get_target
from molmtl.training.config import cut_split, run_split
from molmtl.units import ML_ELEMENTS, QM9_ELEMENTS

log = logging.getLogger(__name__)

#: Above this many molecules a part's 2D graphs are cached on disk (featurizing QM9 takes minutes).
GRAPH_CACHE_MIN = 5000


@dataclass
class TrainingData:
    """Datasets of one run.

    Attributes:
        targets: the tasks, in column order.
        split: the (possibly cut) split; row numbers index the full source.
        train, val, test: datasets of the split's parts.
        source: ``"qm9"`` or the CSV path.
        qm9_parts: the QM9 subsets of train/val/test (QM9 runs only), for :class:`PaddedDataset`.
        elements: the atomic numbers the molecules hold (QM9's five for QM9).
        smiles: the whole source's SMILES, indexed as the split's rows (to recompute another
            model's split on the same source).
    """

    targets: tuple[Target, ...]
    split: Split
    train: MolDataset
    val: MolDataset
    test: MolDataset
    source: str
    qm9_parts: dict | None = None
    elements: tuple[int, ...] = tuple(sorted(QM9_ELEMENTS))
    smiles: list[str] | None = None


def load_training_data(config, *, graph: bool, geometry: bool) -> TrainingData:
    """Datasets for ``config`` (QM9 when ``config.data`` is None, else the CSV it names).

    Args:
        config: a :class:`~molmtl.training.config.TrainConfig`.
        graph: build 2D graphs (the encoder's ``needs_graph``).
        geometry: carry 3D positions (the encoder's ``needs_geometry``); CSV SMILES are embedded
            with RDKit (ETKDG + MMFF) when True.
    """
    if config.data is None:
        return _qm9_data(config, graph=graph, geometry=geometry)
    return _csv_data(config, graph=graph, geometry=geometry)


def _qm9_data(config, *, graph: bool, geometry: bool) -> TrainingData:
    from molmtl.data.qm9 import load_qm9

    qm9 = load_qm9()
    targets = tuple(get_target(k) for k in config.tasks)
    split = run_split(config, len(qm9), qm9.canonical_smiles)
    rows = {name: np.asarray(getattr(split, name)) for name in ("train", "val", "test")}
    if config.geometry == "rdkit":  # the geometries users' SMILES get; molecules without one are left out
        from molmtl.data.rdkit_qm9 import with_rdkit_geometries

        qm9, has = with_rdkit_geometries(qm9)
        left_out = sum(int((~has[r]).sum()) for r in rows.values())
        if left_out:
            log.warning("%d of %d molecules left out: no RDKit geometry (RDKit could not embed them, or the "
                        "geometry file holds only part of QM9)",
                        left_out, sum(len(r) for r in rows.values()))
        rows = {name: r[has[r]] for name, r in rows.items()}

    parts = {name: qm9.subset(rows[name]) for name in ("train", "val", "test")}

    def part(name):
        cache = True if len(parts[name]) >= GRAPH_CACHE_MIN else None
        return MolDataset(parts[name], targets, graph=graph, geometry=geometry, graph_cache=cache,
                          elements=config.elements)

    return TrainingData(targets, split, part("train"), part("val"), part("test"), "qm9", parts, config.elements,
                        list(qm9.canonical_smiles))


def _csv_data(config, *, graph: bool, geometry: bool) -> TrainingData:
    from molmtl.chem.parse import from_smiles
    from molmtl.chem.validate import require_supported
    from molmtl.data.csv import read_csv

    table = read_csv(config.data, smiles_column=config.smiles_column, tasks=config.tasks)
    by_key = {t.key: j for j, t in enumerate(table.targets)}
    missing = [k for k in config.tasks if k not in by_key]
    if missing:
        raise InputError(f"{config.data} has no column for task {missing[0]!r}; its targets are {', '.join(by_key)}")
    cols = [by_key[k] for k in config.tasks]
    targets = tuple(table.targets[j] for j in cols)
    labels = table.y[:, cols]
    if np.isnan(labels).all(axis=0).any():
        empty = config.tasks[int(np.flatnonzero(np.isnan(labels).all(axis=0))[0])]
        raise InputError(f"{config.data}: column {empty!r} has no labels")
    n = len(table.smiles)
    split = run_split(config, n, table.smiles)
    if len(split.train) == 0 or len(split.val) == 0:
        raise InputError(f"{config.data} has too few molecules ({n}) for training and validation parts")
    log.info("reading %d molecules from %s", n, config.data)

    elements = set(config.elements)  # grows to the elements present (TrainConfig.elements follows)
    mols = {}
    for name in ("train", "val", "test"):
        mols[name] = [from_smiles(table.smiles[r], embed=False, name=table.names[r]) for r in getattr(split, name)]
        for mol in mols[name]:  # checked before any 3D embedding
            require_supported(mol, elements=ML_ELEMENTS, allow_charged=True, allow_open_shell=True,
                              method=f"molmtl training (elements {symbols_text(ML_ELEMENTS)})")
            elements.update(int(z) for z in mol.atomic_numbers)
    rows = {name: np.asarray(getattr(split, name)) for name in mols}
    if geometry:  # embedded once, then read from molmtl's geometry store
        mols, rows = _embedded_parts(table, rows, str(config.data))
    elements = tuple(sorted(elements))
    parts = [MolDataset(mols[name], targets, labels[rows[name]], graph=graph, geometry=geometry,
                        elements=elements) for name in ("train", "val", "test")]
    return TrainingData(targets, split, *parts, str(config.data), elements=elements, smiles=list(table.smiles))


def _embedded_parts(table, rows: dict[str, np.ndarray], source: str):
    """3D molecules for each part's ``rows`` of a CSV ``table``, and the rows kept: a molecule RDKit
    cannot embed is left out of its part with a warning (about 1 QM9-like molecule in 200), not
    the whole run."""
    from molmtl.data.geometries import embed_smiles

    every = np.concatenate(list(rows.values()))
    embedded = embed_smiles([table.smiles[r] for r in every], [table.names[r] for r in every])
    made = dict(zip(every.tolist(), embedded.molecules))
    failed = [(r, e) for r, e in zip(every.tolist(), embedded.errors) if e is not None]
    if failed:
        log.warning("%d of %d molecules of %s left out: RDKit could not embed them in 3D; the first: %s",
                    len(failed), len(every), source, failed[0][1])
    kept = {name: np.asarray([r for r in part if made[int(r)] is not None], dtype=np.int64) for name, part in rows.items()}
    for name in ("train", "val"):
        if len(kept[name]) == 0:
            raise InputError(f"no molecule of {source}'s {name} part could be embedded in 3D; the first: {failed[0][1]}")
    return {name: [made[int(r)] for r in part] for name, part in kept.items()}, kept


def fit_scaler(dataset: MolDataset, targets, kind: str = "element", max_z: int = 10):
    """A :class:`~molmtl.models.normalize.TargetScaler` fitted on ``dataset``'s labels.

    ``kind="element"``: per-element references (sum targets) + standardization (the default);
    ``kind="zscore"``: plain per-target mean and standard deviation (the LibMTL protocol).
    ``max_z``: the largest atomic number with a reference (``TrainConfig.max_z``).
    """
    from molmtl.models.normalize import TargetScaler

    items = [dataset[i] for i in range(len(dataset))]
    whole = collate(items, graph=False, geometry=False)
    if kind == "element":
        return TargetScaler.fit(whole.y, whole.z, whole.mask, targets, max_z)
    scaler = TargetScaler(targets, max_z)
    y = whole.y.numpy()
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(y, axis=0), np.nanstd(y, axis=0, ddof=1)
    scaler.shift.copy_(torch.from_numpy(np.nan_to_num(mean)))
    scaler.scale.copy_(torch.from_numpy(np.where(np.isfinite(std) & (std > 0), std, 1.0)))
    return scaler


class EvalShard(Dataset):
    """``dataset`` padded to ``total`` items so that every DDP process evaluates as many batches.

    DistributedSampler pads a part that ``world`` does not divide with repeats of its head, and
    those repeats would count twice in the validation loss (which then drives checkpoints and early
    stopping). Here the repeats carry no labels (all NaN), so every loss and metric masks them
    out: each molecule counts exactly once, on one process.
    """

    def __init__(self, dataset, total: int):
        if total < len(dataset):
            raise ValueError(f"total {total} is smaller than the dataset ({len(dataset)})")
        self.dataset, self.total = dataset, total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int) -> dict:
        n = len(self.dataset)
        item = self.dataset[i % n]
        if i >= n and item.get("y") is not None:
            item = {**item, "y": np.full_like(item["y"], np.nan)}
        return item


class EpochRandomSampler(RandomSampler):
    """A random order per epoch drawn from ``seed + epoch`` (as DistributedSampler does), so that a
    resumed run shuffles as the uninterrupted run would have.

    Lightning calls ``set_epoch`` with the epoch number at the start of every training epoch,
    resumed ones included (its sampler protocol); a plain ``shuffle=True`` would draw from one
    generator seeded when the loader is made, so a resumed run would repeat the first epochs'
    orders. Without ``set_epoch`` calls each iteration moves on to the next epoch's order. It is a
    :class:`~torch.utils.data.RandomSampler`, so Lightning still sees a shuffled loader and puts a
    shuffling DistributedSampler in its place under DDP.
    """

    def __init__(self, data_source, seed: int = 0):
        super().__init__(data_source)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def epoch_generator(self) -> torch.Generator:
        """A CPU generator for this epoch's random draws."""
        return torch.Generator().manual_seed(self.seed + self.epoch)

    def permutation(self) -> tuple[torch.Tensor, torch.Generator]:
        """This epoch's order, and its generator after drawing it (for further draws of the epoch,
        e.g. :meth:`PaddedDataset.plan`'s); the next call gives the next epoch's (unless
        ``set_epoch`` comes between)."""
        gen = self.epoch_generator()
        order = torch.randperm(len(self.data_source), generator=gen)
        self.epoch += 1
        return order, gen

    def __iter__(self):
        return iter(self.permutation()[0].tolist())


class PaddedLoader:
    """Batches sliced from a device-resident :class:`~molmtl.data.batching.PaddedDataset`.

    No DataLoader, no collate, no host-to-device copy per step. Each epoch draws a new
    permutation (seeded by ``seed`` and the epoch) and, under DDP, keeps every ``world``-th
    molecule from ``rank`` on (the DistributedSampler's rule): the permutation is first padded
    with its own head to a multiple of ``world``, so every process takes the same number of
    steps (an extra step on one process would hang the others' gradient all-reduce). Without
    shuffling (evaluation) the padding molecules' labels are NaN, as in :class:`EvalShard`, so
    that no molecule counts twice in a metric.

    ``trim_to`` and ``sort_window`` are :meth:`PaddedDataset.plan`'s, applied to this process's
    share (sorting only when shuffling): batches cut to their largest molecule rounded up to a
    multiple of ``trim_to`` atoms. Random batches of 1,024 QM9 molecules always hold one of 25
    atoms or more, so trimming needs size-sorted windows to remove padding.
    """

    def __init__(self, data, batch_size: int, *, shuffle: bool, seed: int = 0, rank: int = 0, world: int = 1,
                 trim_to: int = 0, sort_window: int = 0):
        self.data, self.batch_size, self.shuffle, self.seed = data, batch_size, shuffle, seed
        self.rank, self.world = rank, world
        self.trim_to, self.sort_window = trim_to, sort_window
        self.sampler = EpochRandomSampler(range(len(data)), seed) if shuffle else None
        self.batch_sampler = None  # Lightning reads both when it inspects a loader

    def _local(self) -> int:
        return -(-len(self.data) // self.world)  # the same on every process

    def __len__(self) -> int:
        return -(-self._local() // self.batch_size)

    def __iter__(self):
        n, gen = len(self.data), None
        if self.sampler is not None:
            order, gen = self.sampler.permutation()
        else:
            order = torch.arange(n)
        total = self._local() * self.world
        if total > n:  # pad as DistributedSampler does: repeat the head of the permutation
            order = order.repeat(-(-total // n))[:total]
        # evaluation: mark the repeats, whose labels become NaN (plan keeps an unshuffled order as is)
        repeat = None if self.shuffle or total == n else torch.arange(total)[self.rank :: self.world] >= n
        order, spans = self.data.plan(order[self.rank :: self.world].numpy(), self.batch_size, trim_to=self.trim_to,
                                      sort_window=self.sort_window if self.shuffle else 0, generator=gen)
        order = torch.from_numpy(order).to(self.data.z.device)  # one copy per epoch
        for start, end, width in spans:
            batch = self.data.batch(order[start:end], width)
            if repeat is not None and batch.y is not None and bool(repeat[start:end].any()):
                drop = repeat[start:end].to(batch.y.device).unsqueeze(1)
                batch.y = torch.where(drop, torch.nan, batch.y)
            yield batch


class MolDataModule(L.LightningDataModule):
    """DataLoaders over prepared train/validation/test datasets.

    Args:
        data: the :class:`TrainingData`.
        device_data: QM9 only: pad the training and validation parts once and keep them on the
            device (:class:`PaddedLoader`), instead of a DataLoader collating every epoch.
        batch_size: molecules per batch (per device under DDP).
        graph, geometry: what batches carry (the encoder's needs).
        num_workers: DataLoader worker processes.
        seed: seed of the training shuffle (Lightning swaps in a DistributedSampler under DDP).
        trim_to, sort_window: with ``device_data``, :class:`PaddedLoader`'s batch trimming
            (``sort_window`` for the training part only). 0: off.
    """

    def __init__(self, data: TrainingData, *, batch_size: int, graph: bool, geometry: bool,
                 num_workers: int = 0, seed: int = 0, device_data: bool = False, trim_to: int = 0,
                 sort_window: int = 0):
        super().__init__()
        self.data, self.batch_size, self.num_workers, self.seed = data, batch_size, num_workers, seed
        self.collate_fn = make_collate(graph=graph, geometry=geometry)
        if device_data and (graph or not geometry or data.qm9_parts is None):
            raise InputError("device-resident data works for QM9 with 3D encoders only (not CSV files or 2D graphs)")
        if (trim_to or sort_window) and not device_data:
            raise InputError("trimming batches (trim_to, sort_window) works with device-resident data only; "
                             "DataLoader batches are already padded to their largest molecule")
        self.device_data, self.trim_to, self.sort_window = device_data, trim_to, sort_window
        self.n_train = len(data.train)
        self._padded: dict = {}

    def _padded_loader(self, part: str, shuffle: bool) -> PaddedLoader:
        """Pad the part once and move it to this process's device (a few hundred MB for all of QM9)."""
        from molmtl.data.batching import PaddedDataset

        if part not in self._padded:
            device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
            self._padded[part] = PaddedDataset.from_qm9(self.data.qm9_parts[part], self.data.targets).to(device)
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        return PaddedLoader(self._padded[part], self.batch_size, shuffle=shuffle, seed=self.seed, rank=rank, world=world,
                            trim_to=self.trim_to, sort_window=self.sort_window)

    def _loader(self, ds, shuffle: bool) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed) if shuffle else None  # workers' base seed
        sampler, world = None, self.trainer.world_size if self.trainer is not None else 1
        if shuffle:  # Lightning swaps in a DistributedSampler under DDP
            sampler = EpochRandomSampler(ds, self.seed)
        elif world > 1:  # evaluation under DDP: each molecule once (Lightning keeps this sampler)
            ds = EvalShard(ds, -(-len(ds) // world) * world)
            sampler = DistributedSampler(ds, num_replicas=world, rank=self.trainer.global_rank, shuffle=False)
        return DataLoader(ds, batch_size=self.batch_size, sampler=sampler, generator=gen, collate_fn=self.collate_fn,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        return batch.to(device)  # MolBatch moves its tensors and its PyG graph

    def train_dataloader(self):
        return self._padded_loader("train", True) if self.device_data else self._loader(self.data.train, True)

    def val_dataloader(self):
        return self._padded_loader("val", False) if self.device_data else self._loader(self.data.val, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.data.test, False)


__all__ = ["TrainingData", "MolDataModule", "PaddedLoader", "EpochRandomSampler", "EvalShard", "load_training_data", "fit_scaler", "cut_split", "run_split"]
