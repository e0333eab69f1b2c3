"""Batches for Lightning: DataLoaders over a run's :class:`~molmtl.training.data.TrainingData`,
or device-resident padded batches, shuffled by epoch so that a resumed run repeats nothing.
Everything here pickles (DDP, DataLoader workers)."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from molmtl.data.batching import PaddedDataset, make_collate
from molmtl.errors import InputError
from molmtl.training.data import TrainingData


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


__all__ = ["MolDataModule", "PaddedLoader", "EpochRandomSampler", "EvalShard"]
