"""Training data: QM9 or a user CSV, cut by a split, as one dataset per split part.

:func:`load_training_data` reads the source a :class:`~molmtl.config.TrainConfig` names, makes
the split (``molmtl.data.splits``), and builds one :class:`~molmtl.data.batching.MolDataset`
per split part (only the rows a run uses are featurized); :func:`fit_scaler` fits the target
normalization on the training part alone. Everything here pickles (DDP, DataLoader workers);
nothing here needs Lightning, so evaluation does not import it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from molmtl.chem.elements import symbols_text
from molmtl.chem.parse import from_smiles
from molmtl.chem.validate import require_supported
from molmtl.data.batching import MolDataset, collate
from molmtl.data.csv import read_csv
from molmtl.data.geometries import embed_smiles
from molmtl.data.qm9 import load_qm9
from molmtl.data.rdkit_qm9 import with_rdkit_geometries
from molmtl.data.splits import Split
from molmtl.errors import InputError
from molmtl.models.normalize import TargetScaler
from molmtl.targets import Target, get_target
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
        config: a :class:`~molmtl.config.TrainConfig`.
        graph: build 2D graphs (the encoder's ``needs_graph``).
        geometry: carry 3D positions (the encoder's ``needs_geometry``); CSV SMILES are embedded
            with RDKit (ETKDG + MMFF) when True.
    """
    if config.data is None:
        return _qm9_data(config, graph=graph, geometry=geometry)
    return _csv_data(config, graph=graph, geometry=geometry)


def model_data(model, geometry: str | None = None):
    """``(config, TrainingData)`` of a trained model's own split: its config (for a QM9 model with
    the ``geometry`` given, ``qm9`` or ``rdkit``; default its own), datasets with the 2D graphs and
    3D positions the model and its companions read. InputError when the data no longer give the
    split stored in the model file."""
    if geometry is not None and model.config.data is not None:
        raise InputError("--geometry is for models trained on QM9; this one was trained on a CSV")
    config = model.config if geometry is None else model.config.replace(geometry=geometry)
    data = load_training_data(config, graph=model.needs_graph, geometry=model.needs_geometry)
    stored = (model.info.get("split") or {}).get("id")
    if stored and stored != data.split.id:
        raise InputError(f"the data no longer give the split this model was trained on (split id {data.split.id}, "
                         f"model {stored})")
    return config, data


def _qm9_data(config, *, graph: bool, geometry: bool) -> TrainingData:
    qm9 = load_qm9()
    targets = tuple(get_target(k) for k in config.tasks)
    split = config.split_for(len(qm9), qm9.canonical_smiles)
    rows = {name: np.asarray(getattr(split, name)) for name in ("train", "val", "test")}
    if config.geometry == "rdkit":  # the geometries users' SMILES get; molecules without one are left out
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
    split = config.split_for(n, table.smiles)
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
    ``kind="zscore"``: plain per-target mean and standard deviation (the LibMTL protocol; dipole
    targets: their RMS, no shift).
    ``max_z``: the largest atomic number with a reference (``TrainConfig.max_z``).
    """
    items = [dataset[i] for i in range(len(dataset))]
    whole = collate(items, graph=False, geometry=False)
    if kind == "element":
        return TargetScaler.fit(whole.y, whole.z, whole.mask, targets, max_z)
    scaler = TargetScaler(targets, max_z)
    y = whole.y.numpy()
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(y, axis=0), np.nanstd(y, axis=0, ddof=1)
        # A dipole head predicts a norm: divided by the RMS, never shifted (as ``element`` does).
        dipole = np.array([t.readout == "dipole" for t in scaler.targets])
        mean[dipole] = 0.0
        std[dipole] = np.sqrt(np.nanmean(y[:, dipole] ** 2, axis=0))
    scaler.shift.copy_(torch.from_numpy(np.nan_to_num(mean)))
    scaler.scale.copy_(torch.from_numpy(np.where(np.isfinite(std) & (std > 0), std, 1.0)))
    return scaler


__all__ = ["TrainingData", "load_training_data", "model_data", "fit_scaler", "GRAPH_CACHE_MIN"]
