"""The multi-task network as a method: a trained model (default: the shipped one for the input).

Two models are shipped (model card: ``weights/MODEL_CARD.md``), one hard-shared dense PaiNN for
all 19 targets with two sets of weights: :data:`SHIPPED_MODEL`, trained on QM9's B3LYP
geometries (standard split, one H100; ``BENCHMARKS.md``, "QM9 on one H100"), for geometries of
that kind (QM9 ids, XYZ/SDF files), and :data:`SHIPPED_SMILES_MODEL`, the same model fine-tuned
on the RDKit ETKDG + MMFF geometries a SMILES gets, for SMILES input (from such a geometry the
first errs about 20 times its test MAE on U0). :func:`shipped_model` picks by the input's kind.
Loaded models are kept per file, so a server loads each once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from molmtl.chem.molecule import Molecule
from molmtl.chem.validate import domain_problems
from molmtl.data.qm9 import QM9, load_qm9
from molmtl.errors import InputError
from molmtl.inference import (
    TrainedModel,
    file_sha256,
    load_model,
    model_path,
    predict_molecules,
    require_model_domain,
)
from molmtl.methods.base import Method, Progress, no_progress
from molmtl.methods.domain import assess
from molmtl.methods.reference import qm9_entry
from molmtl.methods.registry import METHODS
from molmtl.methods.result import (
    Geometry,
    MethodResult,
    molecule_summary,
    properties_in_registry_units,
)

log = logging.getLogger(__name__)

#: The model for molecules with their own geometry (QM9 ids, XYZ/SDF files).
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "weights" / "qm9-painn-hard-19.pt"
#: The model for SMILES (trained on the geometries RDKit gives them).
SHIPPED_SMILES_MODEL = Path(__file__).resolve().parents[1] / "weights" / "qm9-painn-hard-19-rdkit.pt"
#: The most atoms a prediction takes (dense all-pairs blocks: memory grows as N^2; QM9 has at most 29).
ML_MAX_ATOMS = 500
#: QM9 has 48 molecules with at most 4 heavy atoms and 130,783 with 5 to 9: models trained on it
#: predict the smallest ones far worse than their test MAE (methane's HOMO misses by 3.5 eV).
_FEW_HEAVY_ATOMS = 4
#: Where each kind of input geometry comes from, in words.
GEOMETRY_SOURCES = {"smiles": "RDKit ETKDG + MMFF", "qm9": "QM9 (B3LYP/6-31G(2df,p))", "xyz": "input XYZ file",
                    "sdf": "input SDF/MOL file"}

_LOADED: dict[Path, tuple[TrainedModel, str]] = {}


def shipped_model(source: str | None = None) -> Path:
    """The shipped model for a molecule whose geometry came from ``source`` (a
    :attr:`Molecule.source`: ``"smiles"`` for an RDKit embedding; ``"qm9"``, ``"xyz"``, ...)."""
    return SHIPPED_SMILES_MODEL if source == "smiles" else SHIPPED_MODEL


def load(model: str | Path | None = None, *, source: str | None = None) -> tuple[TrainedModel, str]:
    """``(TrainedModel, path)``: the model in ``model`` (a model file or run folder), or the shipped
    one for input geometries from ``source``; each file is loaded once per process."""
    path = model_path(Path(model) if model is not None else shipped_model(source)).resolve()
    if not path.exists():
        raise InputError(f"model not found: {model if model is not None else path}")
    if path not in _LOADED:
        _LOADED[path] = (load_model(path), str(path))
    return _LOADED[path]


@METHODS.register("ml")
class MLMethod(Method):
    """The multi-task graph network: 19 properties in milliseconds.

    Args:
        model (str): a model file or run folder (default: the shipped model for the input's kind
            of geometry: fine-tuned on RDKit geometries for SMILES, on QM9's for files and ids).
        lookup (bool): put QM9's entry (labels, split part) beside the result when the molecule is in QM9.
    """

    name = "ml"
    max_atoms = ML_MAX_ATOMS
    one_fragment = False

    def __init__(self, model: str | None = None, lookup: bool = True, *, qm9: QM9 | None = None):
        self.model, self.lookup, self._qm9 = model, lookup, qm9

    @property
    def level_of_theory(self) -> str:
        return "multi-task network (PaiNN, hard sharing) trained on QM9's B3LYP/6-31G(2df,p) labels"

    def estimate_seconds(self, molecule: Molecule) -> float:
        return 0.05 if self.model_for(molecule) in _LOADED else 0.4  # a model file loads in about 0.3 s

    def model_for(self, molecule: Molecule) -> Path:
        return model_path(Path(self.model) if self.model is not None else shipped_model(molecule.source)).resolve()

    def check(self, molecule: Molecule) -> list[str]:
        warnings = super().check(molecule) if molecule.positions is not None else []
        trained, _ = load(self.model, source=molecule.source)
        require_model_domain(molecule, trained)  # its sentence points to xTB
        if trained.needs_geometry and molecule.positions is None:
            raise InputError(f"{molecule.name or molecule.formula} has no 3D geometry, which this model needs")
        return warnings

    def run(self, molecule: Molecule, progress: Progress | None = None) -> MethodResult:
        progress = progress or no_progress
        t_start = time.perf_counter()
        warnings = self.check(molecule)
        t0 = time.perf_counter()
        progress("loading the model", None)
        trained, path = load(self.model, source=molecule.source)
        timings = {"model_load": time.perf_counter() - t0}
        warnings += self._warnings(molecule, trained)
        progress("predicting", None)
        t0 = time.perf_counter()
        values, emb = predict_molecules(trained, [molecule], embeddings=True)  # under no_grad
        values = values[0]
        timings["inference"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        trust = assess(trained, molecule, values, emb[0] if emb.shape[1] else None)
        timings["uncertainty"] = time.perf_counter() - t0
        props, units = properties_in_registry_units({t.key: v for t, v in zip(trained.targets, values)})
        custom = {t.key: (float(v), t.unit) for t, v in zip(trained.targets, values) if t.key not in props}
        props.update({k: v for k, (v, _) in custom.items()})
        units.update({k: u for k, (_, u) in custom.items()})
        sigma = {} if trust.sigma is None else dict(zip(trained.keys, (float(x) for x in trust.sigma)))
        result = MethodResult(
            method=self.name, level_of_theory=self.level_of_theory, molecule=molecule_summary(molecule),
            properties=props, units=units, uncertainty={k: sigma.get(k) for k in props}, domain=trust.domain,
            geometry=Geometry.of(molecule, GEOMETRY_SOURCES.get(molecule.source, molecule.source)),
            timings_s=timings, warnings=warnings,
            provenance={"model": path, "model_sha256": _sha256(path), "encoder": trained.config.encoder,
                        "strategy": trained.config.strategy, "trained_on": "QM9" if trained.config.data is None else trained.config.data,
                        "training_geometries": trained.config.geometry},
            derived={k: v for k, v in trained.derived().items() if k in props})
        if self.lookup and trained.config.data is None:
            self._add_qm9(result, molecule, trained)
        result.wall_s = time.perf_counter() - t_start
        return result

    def _warnings(self, molecule: Molecule, trained: TrainedModel) -> list[str]:
        qm9_model = trained.config.data is None  # else trained on a user's CSV: QM9's domain is beside the point
        warnings = list(molecule.warnings)
        if not qm9_model:
            qm9_domain = set(domain_problems(molecule))
            warnings = [w for w in warnings if w not in qm9_domain]
        if qm9_model and molecule.n_heavy_atoms <= _FEW_HEAVY_ATOMS:
            warnings.append(f"{molecule.n_heavy_atoms} heavy atoms: QM9 has only 48 molecules with 4 or fewer, so "
                            "predictions for such small molecules are far less accurate than the test MAE")
        rdkit_trained = trained.config.data is not None or trained.config.geometry == "rdkit"
        if trained.needs_geometry and molecule.source == "smiles" and not rdkit_trained:
            warnings.append("the geometry comes from RDKit (ETKDG + MMFF), not from B3LYP like the training "
                            "geometries: expect errors above the model's test MAE")
        if trained.needs_geometry and molecule.source != "smiles" and qm9_model and rdkit_trained:
            warnings.append(f"this model was trained on RDKit (ETKDG + MMFF) geometries, and this one comes from "
                            f"{molecule.source}: give the SMILES for the geometry it expects")
        return warnings

    def _add_qm9(self, result: MethodResult, molecule: Molecule, trained: TrainedModel) -> None:
        qm9 = self._qm9 if self._qm9 is not None else load_qm9()
        entry = qm9_entry(molecule, qm9)
        if entry is None:
            return
        part = split_part(trained, qm9, entry.row)
        result.qm9 = entry.to_json(split_part=part)
        result.qm9["labels"] = {k: v for k, v in entry.labels.items() if k in result.properties}
        if part == "train":
            result.warnings.append(f"QM9 {entry.index} was in this model's training set: its error is not a test error")
        result.warnings += entry.notes("the input geometry" if molecule.source != "smiles" else "the RDKit geometry")


def split_part(model: TrainedModel, qm9: QM9, row: int) -> str | None:
    """``train``/``val``/``test``/``none``: where QM9 row ``row`` was in the model's split (None if unknown)."""
    parts = _split_parts(model, qm9)
    return None if parts is None else str(parts[row])


_PARTS: dict[tuple[int, int], np.ndarray | None] = {}


def _split_parts(model: TrainedModel, qm9: QM9) -> np.ndarray | None:
    """The part of every QM9 row in ``model``'s split, computed once per model and dataset."""
    key = (id(model), id(qm9))
    if key not in _PARTS:
        _PARTS[key] = None
        config = model.config
        if config.data is None:  # else trained on a user's CSV
            try:
                split = config.split_for(len(qm9), qm9.canonical_smiles)
            except InputError:  # e.g. a split file that is no longer there
                split = None
            stored = (model.info.get("split") or {}).get("id")
            if split is not None and not (stored and stored != split.id):
                parts = np.full(len(qm9), "none", dtype=object)
                for part in ("train", "val", "test"):
                    parts[np.asarray(getattr(split, part))] = part
                _PARTS[key] = parts
    return _PARTS[key]


_HASHES: dict[str, str] = {}


def _sha256(path: str) -> str:
    if path not in _HASHES:
        _HASHES[path] = file_sha256(path)
    return _HASHES[path]


__all__ = ["MLMethod", "SHIPPED_MODEL", "SHIPPED_SMILES_MODEL", "shipped_model", "load", "split_part", "ML_MAX_ATOMS"]
