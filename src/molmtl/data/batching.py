"""Molecules -> :class:`~molmtl.models.base.MolBatch`: dense padded 3D blocks and 2D graphs.

Two ways to batch:

* :class:`MolDataset` + :func:`collate` (or :func:`make_collate`) for a ``torch.utils.data.DataLoader``:
  per-molecule items, padded to the largest molecule of each batch; works with workers (all
  picklable) and for user molecules;
* :class:`PaddedDataset` for GPU speed: the whole set padded once to ``N`` atoms (QM9: 29) and
  moved to the device; :meth:`PaddedDataset.batches` yields MolBatch slices with no DataLoader,
  no host-device copies and static shapes (3D encoders only).

Labels ``y`` are float64 in the target registry's units (total energies near -10,000 eV need
the precision); :class:`~molmtl.models.normalize.TargetScaler` turns them into float32.
2D graphs (:func:`molmtl.chem.features.graph_from_smiles`) are built once per dataset, kept in
memory, and optionally cached on disk, keyed by a hash of the SMILES.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from molmtl.chem.features import (
    BOND_FEATURE_DIM,
    ELEMENTS,
    atom_feature_dim,
    graph_from_smiles,
)
from molmtl.chem.molecule import Molecule
from molmtl.data.cache import atomic_path, cache_dir
from molmtl.data.molbatch import GraphBatch, MolBatch
from molmtl.errors import InputError
from molmtl.targets import TARGET_KEYS, get_target

log = logging.getLogger(__name__)

GRAPH_CACHE_VERSION = "v1"


@dataclass
class PackedGraphs:
    """Many 2D graphs in flat arrays: graph ``i`` owns nodes ``node_offsets[i]:node_offsets[i+1]``
    and edges ``edge_offsets[i]:edge_offsets[i+1]`` (``edge_index`` local to the graph)."""

    x: np.ndarray
    z: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    node_offsets: np.ndarray
    edge_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.node_offsets) - 1

    def graph(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(x, edge_index, edge_attr, z)`` of graph ``i``."""
        a, b = self.node_offsets[i], self.node_offsets[i + 1]
        c, d = self.edge_offsets[i], self.edge_offsets[i + 1]
        return self.x[a:b], self.edge_index[:, c:d], self.edge_attr[c:d], self.z[a:b]


def _fallback_graph(z: np.ndarray, elements: tuple[int, ...] = ELEMENTS):
    """Heavy atoms with their element one-hot and no bonds, for a SMILES RDKit cannot read."""
    heavy = z[z > 1] if (z > 1).any() else z
    x = np.zeros((len(heavy), atom_feature_dim(elements)), dtype=np.float32)
    for k, el in enumerate(heavy):
        x[k, elements.index(int(el)) if int(el) in elements else len(elements)] = 1.0
    return x, np.zeros((2, 0), np.int64), np.zeros((0, BOND_FEATURE_DIM), np.float32), heavy.astype(np.int64)


def build_graphs(smiles: Sequence[str], atomic_numbers: Sequence[np.ndarray] | None = None,
                 elements: tuple[int, ...] = ELEMENTS) -> PackedGraphs:
    """Featurize every SMILES, atoms one-hot over the element vocabulary ``elements`` (a bond-less
    fallback, with a warning, where RDKit fails and ``atomic_numbers`` are given; else InputError)."""
    elements = tuple(elements)
    xs, eis, eas, zs, failed = [], [], [], [], 0
    for i, smi in enumerate(smiles):
        try:
            g = graph_from_smiles(smi, elements)
            x, ei, ea, gz = g.x, g.edge_index, g.edge_attr, g.z
        except InputError:
            if atomic_numbers is None:
                raise
            failed += 1
            x, ei, ea, gz = _fallback_graph(np.asarray(atomic_numbers[i]), elements)
        xs.append(x), eis.append(ei), eas.append(ea), zs.append(gz)
    if failed:
        log.warning("%d of %d SMILES could not be read by RDKit; they get bond-less graphs", failed, len(smiles))
    n_nodes = np.array([len(x) for x in xs], dtype=np.int64)
    n_edges = np.array([e.shape[1] for e in eis], dtype=np.int64)
    return PackedGraphs(
        x=np.concatenate(xs) if xs else np.zeros((0, atom_feature_dim(elements)), np.float32),
        z=np.concatenate(zs) if zs else np.zeros(0, np.int64),
        edge_index=np.concatenate(eis, axis=1) if eis else np.zeros((2, 0), np.int64),
        edge_attr=np.concatenate(eas) if eas else np.zeros((0, BOND_FEATURE_DIM), np.float32),
        node_offsets=np.concatenate([[0], np.cumsum(n_nodes)]),
        edge_offsets=np.concatenate([[0], np.cumsum(n_edges)]),
    )


def cached_graphs(smiles: Sequence[str], atomic_numbers=None, folder: str | Path | None = None,
                  elements: tuple[int, ...] = ELEMENTS) -> PackedGraphs:
    """:func:`build_graphs`, stored as ``graphs-<hash>-v1.npz`` in ``folder`` (default: molmtl's
    cache directory) and read back from there next time. An element vocabulary other than QM9's
    enters the hash."""
    elements = tuple(elements)
    key = "\n".join(smiles) + ("" if elements == ELEMENTS else "\nelements " + " ".join(map(str, elements)))
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    path = cache_dir(folder) / f"graphs-{digest}-{GRAPH_CACHE_VERSION}.npz"
    if path.is_file():
        with np.load(path) as f:
            return PackedGraphs(**{k: f[k] for k in f.files})
    log.info("featurizing %d SMILES into 2D graphs (once; cached at %s)", len(smiles), path)
    graphs = build_graphs(smiles, atomic_numbers, elements)
    with atomic_path(path) as tmp:
        np.savez(tmp, **graphs.__dict__)
    return graphs


def _qm9_columns(targets) -> list[int]:
    """Columns of QM9's target table for ``targets``; a user's own target has none."""
    custom = [t.key for t in targets if t.index < 0]
    if custom:
        raise InputError(f"QM9 has no labels for {', '.join(custom)}; QM9's targets are its 19 registry keys")
    return [t.index for t in targets]


def _resolve_targets(targets) -> tuple:
    keys = TARGET_KEYS if targets is None else tuple(targets)
    return tuple(get_target(k) if isinstance(k, str) else k for k in keys)


class MolDataset(Dataset):
    """Per-molecule items from a QM9 object or a list of :class:`Molecule`.

    Args:
        source: a :class:`molmtl.data.qm9.QM9` (labels from ``QM9.targets``) or molecules.
        targets: target keys (or Targets) whose labels ``y`` carries, in order. (default: all 19)
        labels: ``(n, T)`` labels in the registry's units for molecules (NaN = missing); ignored
            for QM9. (default: None, no labels)
        graph: build 2D graphs from SMILES (for gcn/mpnn). (default: False)
        geometry: carry positions (for painn); molecules without positions raise. (default: True)
        graph_cache: folder for the on-disk graph cache; ``True`` = molmtl's cache directory,
            None = memory only. (default: None)
        elements: the 2D graphs' element vocabulary (the model's ``TrainConfig.elements``).
            (default: QM9's five)

    Items are dicts of numpy arrays: ``z`` (n,), ``pos`` (n, 3) or None, ``y`` (T,) or None,
    ``graph`` (x, edge_index, edge_attr, z) or None.
    """

    def __init__(self, source, targets=None, labels=None, *, graph: bool = False, geometry: bool = True,
                 graph_cache: str | Path | bool | None = None, elements: Sequence[int] = ELEMENTS):
        self.targets = _resolve_targets(targets)
        self.elements = tuple(elements)
        self.graph, self.geometry = graph, geometry
        if hasattr(source, "offsets") and hasattr(source, "targets"):  # a QM9 object
            self.z, self.pos, self.offsets = source.z.astype(np.int64), source.pos, np.asarray(source.offsets)
            self.y = np.ascontiguousarray(source.targets[:, _qm9_columns(self.targets)], dtype=np.float64)
            smiles = list(source.canonical_smiles)
        else:
            mols: list[Molecule] = list(source)
            counts = [m.n_atoms for m in mols]
            self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self.z = np.concatenate([m.atomic_numbers for m in mols]) if mols else np.zeros(0, np.int64)
            if geometry:
                missing = [m.name or m.smiles or str(i) for i, m in enumerate(mols) if m.positions is None]
                if missing:
                    raise InputError(f"molecule {missing[0]} has no 3D geometry, which this model needs; embed it first")
                self.pos = np.concatenate([m.positions for m in mols]).astype(np.float32) if mols else np.zeros((0, 3), np.float32)
            else:
                self.pos = None
            self.y = None
            if labels is not None:
                self.y = np.asarray(labels, dtype=np.float64).reshape(len(mols), len(self.targets))
            smiles = [m.smiles for m in mols]
            if graph and any(s is None for s in smiles):
                bad = next(m for m in mols if m.smiles is None)
                raise InputError(f"molecule {bad.name or 'given'} has no SMILES, which 2D encoders need")
        self.graphs = None
        if graph:
            per_mol_z = [self.z[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]
            if graph_cache is None or graph_cache is False:
                self.graphs = build_graphs(smiles, per_mol_z, self.elements)
            else:
                self.graphs = cached_graphs(smiles, per_mol_z, None if graph_cache is True else graph_cache, self.elements)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> dict:
        a, b = self.offsets[i], self.offsets[i + 1]
        return {
            "z": self.z[a:b],
            "pos": self.pos[a:b] if (self.geometry and self.pos is not None) else None,
            "y": self.y[i] if self.y is not None else None,
            "graph": self.graphs.graph(i) if self.graphs is not None else None,
        }


def _collate_graphs(graphs: list):
    n_nodes = [len(g[0]) for g in graphs]
    starts = np.concatenate([[0], np.cumsum(n_nodes)])
    edge_index = np.concatenate([g[1] + s for g, s in zip(graphs, starts[:-1])], axis=1)
    return GraphBatch(
        x=torch.from_numpy(np.concatenate([g[0] for g in graphs])),
        edge_index=torch.from_numpy(edge_index),
        edge_attr=torch.from_numpy(np.concatenate([g[2] for g in graphs])),
        z=torch.from_numpy(np.concatenate([g[3] for g in graphs])),
        batch=torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(n_nodes, dtype=torch.long)),
        ptr=torch.from_numpy(starts),
    )


def collate(items: Sequence[dict], *, graph: bool, geometry: bool) -> MolBatch:
    """Pad ``items`` (from :class:`MolDataset`) to the largest molecule and stack them into a MolBatch."""
    B = len(items)
    n = max(len(it["z"]) for it in items)
    z = np.zeros((B, n), dtype=np.int64)
    mask = np.zeros((B, n), dtype=bool)
    pos = np.zeros((B, n, 3), dtype=np.float32) if geometry else None
    for k, it in enumerate(items):
        m = len(it["z"])
        z[k, :m], mask[k, :m] = it["z"], True
        if geometry:
            if it["pos"] is None:
                raise InputError("a molecule in this batch has no 3D geometry, which this model needs")
            pos[k, :m] = it["pos"]
    y = None
    if all(it["y"] is not None for it in items):
        y = torch.from_numpy(np.stack([it["y"] for it in items]))
    g = None
    if graph:
        if any(it["graph"] is None for it in items):
            raise InputError("this model needs 2D graphs; build the dataset with graph=True")
        g = _collate_graphs([it["graph"] for it in items])
    return MolBatch(z=torch.from_numpy(z), pos=torch.from_numpy(pos) if geometry else None,
                    mask=torch.from_numpy(mask), y=y, graph=g)


def make_collate(*, graph: bool, geometry: bool):
    """A picklable ``collate_fn`` for a DataLoader."""
    return functools.partial(collate, graph=graph, geometry=geometry)


class PaddedDataset:
    """A whole dataset padded to ``n_max`` atoms as tensors (move it to the GPU once with :meth:`to`).

    Attributes:
        z: ``(n, n_max)`` long; pos: ``(n, n_max, 3)`` float32 (Angstrom); mask: ``(n, n_max)`` bool;
        y: ``(n, T)`` float64 labels in the registry's units, or None.
    """

    def __init__(self, z: Tensor, pos: Tensor, mask: Tensor, y: Tensor | None):
        self.z, self.pos, self.mask, self.y = z, pos, mask, y
        self.n_atoms = mask.sum(dim=1).cpu().numpy()  # host copy: batch widths without GPU syncs

    @classmethod
    def from_qm9(cls, qm9, targets=None, n_max: int | None = None) -> "PaddedDataset":
        """Pad a QM9 object (vectorized: no loop over molecules)."""
        targets = _resolve_targets(targets)
        counts = np.diff(qm9.offsets)
        n_max = int(n_max or (counts.max() if len(counts) else 1))
        if len(counts) and counts.max() > n_max:
            raise InputError(f"a molecule has {counts.max()} atoms, more than n_max={n_max}")
        mol = np.repeat(np.arange(len(counts)), counts)
        slot = np.arange(len(mol)) - np.asarray(qm9.offsets)[mol]
        z = np.zeros((len(counts), n_max), np.int64)
        pos = np.zeros((len(counts), n_max, 3), np.float32)
        z[mol, slot], pos[mol, slot] = qm9.z, qm9.pos
        y = np.ascontiguousarray(qm9.targets[:, _qm9_columns(targets)], dtype=np.float64)
        z_t = torch.from_numpy(z)
        return cls(z_t, torch.from_numpy(pos), z_t > 0, torch.from_numpy(y))

    def __len__(self) -> int:
        return self.z.shape[0]

    def to(self, device) -> "PaddedDataset":
        return PaddedDataset(self.z.to(device), self.pos.to(device), self.mask.to(device),
                             self.y.to(device) if self.y is not None else None)

    def batch(self, index: Tensor | slice, width: int | None = None) -> MolBatch:
        """Molecules ``index``; with ``width``, only their first ``width`` atom slots (a copy, contiguous)."""
        if width is None or width >= self.z.shape[1]:
            return MolBatch(z=self.z[index], pos=self.pos[index], mask=self.mask[index],
                            y=self.y[index] if self.y is not None else None)
        cut = (lambda t: t[index, :width]) if isinstance(index, Tensor) else (lambda t: t[index, :width].contiguous())
        return MolBatch(z=cut(self.z), pos=cut(self.pos), mask=cut(self.mask),
                        y=self.y[index] if self.y is not None else None)

    def plan(self, order: np.ndarray, batch_size: int, *, drop_last: bool = False, trim_to: int | None = None,
             sort_window: int = 0, generator: torch.Generator | None = None) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """Cut ``order`` (dataset rows, on the host) into batches, on the host alone.

        Args:
            order: the rows, in the order wanted.
            batch_size: molecules per batch.
            drop_last: leave out a last, smaller batch.
            trim_to: each batch's width is its largest molecule rounded up to a multiple of
                ``trim_to`` (at most ``n_max``). None or 0: every batch is ``n_max`` wide.
            sort_window: sort each window of this many molecules of ``order`` by size before
                cutting it into batches, then shuffle the batches (with ``generator``), so that
                batches hold similar sizes and ``trim_to`` removes more padding. 0: no sorting.

        Returns:
            ``(order, spans)``: the (possibly sorted) rows, and one ``(start, end, width)`` per
            batch: rows ``order[start:end]``, atom slots ``:width``.
        """
        n, n_max = len(order), self.z.shape[1]
        if sort_window > 0:
            windows = [order[i:i + sort_window] for i in range(0, n, sort_window)]
            order = np.concatenate([w[np.argsort(self.n_atoms[w], kind="stable")] for w in windows]) if n else order
        stop = n - n % batch_size if drop_last else n
        starts = list(range(0, stop, batch_size))
        if sort_window > 0:
            starts = [starts[k] for k in torch.randperm(len(starts), generator=generator).tolist()]
        spans = []
        for start in starts:
            end = min(start + batch_size, n)
            width = n_max
            if trim_to:
                width = min(-(-int(self.n_atoms[order[start:end]].max()) // trim_to) * trim_to, n_max)
            spans.append((start, end, width))
        return order, spans

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, trim_to: int | None = None, sort_window: int = 0) -> Iterator[MolBatch]:
        """MolBatch slices of ``batch_size`` molecules, on the dataset's device.

        Args:
            batch_size: molecules per batch.
            shuffle: random order (a new one per call). ``generator`` is a CPU generator.
            drop_last: leave out a last, smaller batch.
            trim_to: cut each batch's atom axis to its largest molecule rounded up to a multiple
                of ``trim_to`` (e.g. 8: at most four shapes for QM9, so ``torch.compile`` builds
                few graphs). Pair work grows as N^2, and QM9's mean size is 18 of 29 atoms.
                None: every batch keeps all ``n_max`` atoms (one static shape).
            sort_window: with ``shuffle``, sort each window of this many shuffled molecules by
                size before cutting it into batches (then shuffle the batches), so that batches
                hold similar sizes and ``trim_to`` removes more padding (random batches of a
                few hundred QM9 molecules almost always hold one of 25 atoms or more). 0: no sorting.

        The order and widths are decided on the host (:meth:`plan`) from atom counts kept
        there, so iterating never waits on the GPU.
        """
        n = len(self)
        order = torch.randperm(n, generator=generator).numpy() if shuffle else np.arange(n)
        order, spans = self.plan(order, batch_size, drop_last=drop_last, trim_to=trim_to,
                                 sort_window=sort_window if shuffle else 0, generator=generator)
        order_dev = torch.from_numpy(order).to(self.z.device) if shuffle else None
        for start, end, width in spans:
            yield self.batch(order_dev[start:end] if shuffle else slice(start, end), width)


__all__ = ["MolDataset", "PaddedDataset", "PackedGraphs", "build_graphs", "cached_graphs", "collate", "make_collate"]
