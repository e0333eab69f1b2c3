"""Properties of a molecule from a trained model (by default the shipped one).

:func:`predict` runs a :class:`~molmtl.inference.TrainedModel` on one molecule and, when
the molecule is in QM9, puts QM9's labels beside the predictions and says which part of the
model's split the molecule was in (an error on a training molecule is not a test error).

Two models are shipped (model card: ``weights/MODEL_CARD.md``), one hard-shared dense PaiNN for
all 19 targets with two sets of weights: :data:`SHIPPED_MODEL`, trained on QM9's B3LYP
geometries (standard split, one H100; ``BENCHMARKS.md``, "QM9 on one H100"), for geometries of
that kind (QM9 ids, XYZ/SDF files), and :data:`SHIPPED_SMILES_MODEL`, the same model fine-tuned
on the RDKit ETKDG + MMFF geometries a SMILES gets, for SMILES input (from such a geometry the
first errs about 20 times its test MAE on U0). :func:`shipped_model` picks by the input's kind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molmtl.chem.molecule import Molecule
from molmtl.chem.validate import domain_problems
from molmtl.data.qm9 import load_qm9
from molmtl.errors import InputError
from molmtl.inference import (
    TrainedModel,
    load_model,
    predict_molecules,
    require_model_domain,
)
from molmtl.targets import TARGET_KEYS, Target

log = logging.getLogger(__name__)

#: The model ``molmtl predict`` uses for molecules with their own geometry (QM9 ids, XYZ/SDF files).
SHIPPED_MODEL = Path(__file__).parent / "weights" / "qm9-painn-hard-19.pt"
#: The model ``molmtl predict`` uses for SMILES (trained on the geometries RDKit gives them).
SHIPPED_SMILES_MODEL = Path(__file__).parent / "weights" / "qm9-painn-hard-19-rdkit.pt"


def shipped_model(source: str | None = None) -> Path:
    """The shipped model for a molecule whose geometry came from ``source`` (a
    :attr:`Molecule.source`: ``"smiles"`` for an RDKit embedding; ``"qm9"``, ``"xyz"``, ...)."""
    return SHIPPED_SMILES_MODEL if source == "smiles" else SHIPPED_MODEL

#: QM9 has 48 molecules with at most 4 heavy atoms and 130,783 with 5 to 9: models trained on it
#: predict the smallest ones far worse than their test MAE (methane's HOMO misses by 3.5 eV).
_FEW_HEAVY_ATOMS = 4


@dataclass
class Prediction:
    """One molecule's predicted properties.

    Attributes:
        molecule: the input.
        targets: the model's targets, in column order.
        values: predictions in the registry's units (eV, D, ...), one per target.
        model: the model file used.
        inference_s: wall time of the model call (featurization and loading excluded).
        qm9_row / qm9_index: the molecule's QM9 row and id when it is in QM9, else None.
        labels: QM9's labels in the registry's units (NaN where the model's target is not QM9's).
        split_part: ``train``, ``val``, ``test`` or ``none`` (the model's split), when in QM9.
        warnings: what makes the numbers less trustworthy, one sentence each.
    """

    molecule: Molecule
    targets: tuple[Target, ...]
    values: np.ndarray
    model: str
    inference_s: float
    qm9_row: int | None = None
    qm9_index: int | None = None
    labels: np.ndarray | None = None
    split_part: str | None = None
    warnings: list[str] = field(default_factory=list)

    def rows(self) -> list[dict]:
        """One row per target in display units: key, unit, predicted, and (in QM9) label and error."""
        out = []
        for j, t in enumerate(self.targets):
            row = {"key": t.key, "unit": t.display_unit, "predicted": float(t.to_display(self.values[j]))}
            if self.labels is not None and np.isfinite(self.labels[j]):
                row["qm9"] = float(t.to_display(self.labels[j]))
                row["abs_error"] = abs(row["predicted"] - row["qm9"])
            out.append(row)
        return out

    def table(self) -> str:
        """Plain-text table with units (and QM9's label and the error when the molecule is in QM9)."""
        rows = self.rows()
        has_label = any("qm9" in r for r in rows)
        head = f"{'property':<9} {'predicted':>16}" + (f" {'QM9 label':>16} {'|error|':>10}" if has_label else "") + "  unit"
        lines = [head]
        for r in rows:
            line = f"{r['key']:<9} {_fmt(r['predicted']):>16}"
            if has_label:
                line += f" {_fmt(r['qm9']):>16} {r['abs_error']:>10.3g}" if "qm9" in r else f" {'-':>16} {'-':>10}"
            lines.append(line + f"  {r['unit']}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """JSON-ready: ``properties`` maps target keys to values in the registry's units (as ``dft --json``)."""
        mol = self.molecule
        body = {
            "molecule": {"name": mol.name, "smiles": mol.smiles, "formula": mol.formula, "n_atoms": mol.n_atoms,
                         "geometry": mol.source},
            "method": "ml", "model": self.model, "inference_s": self.inference_s,
            "properties": {t.key: _finite(self.values[j]) for j, t in enumerate(self.targets)},
            "units": {t.key: t.unit for t in self.targets},
            "warnings": list(self.warnings),
        }
        if self.qm9_row is not None:
            body["qm9"] = {"index": self.qm9_index, "split_part": self.split_part,
                           "labels": {t.key: _finite(self.labels[j]) for j, t in enumerate(self.targets)}}
        return body


def _fmt(v: float) -> str:
    """Six significant digits, but total energies in meV (millions) to 0.1 meV, not in e-notation."""
    return f"{v:.1f}" if abs(v) >= 1e5 else f"{v:.6g}"


def _finite(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def load(model: str | Path | None = None, *, source: str | None = None) -> tuple[TrainedModel, str]:
    """``(TrainedModel, path)``: the model in ``model`` (a model file or run folder), or the shipped
    one for input geometries from ``source`` (:func:`shipped_model`)."""
    path = Path(model) if model is not None else shipped_model(source)
    if not path.exists():
        raise InputError(f"model not found: {path}")
    return load_model(path), str(path)


def predict(molecule: Molecule, model=None, *, qm9=None, lookup: bool = True) -> Prediction:
    """Predict ``molecule``'s properties.

    Args:
        molecule: the input (a 3D geometry is needed by 3D models; SMILES input is embedded by
            :func:`molmtl.chem.parse.read_molecule`).
        model: a :class:`TrainedModel`, a model path, or None for the shipped model for the
            molecule's kind of geometry (:func:`shipped_model`).
        qm9: a loaded QM9 object for the look-up (loaded on demand when None and ``lookup``).
        lookup: look the molecule up in QM9 for labels and its split part.

    Raises:
        UnsupportedMoleculeError: an element the model was not trained on (QM9 models: other
            than H, C, N, O, F), a charge, or an odd electron count (the models have no charge or
            spin input).
        InputError: a 3D model and a molecule without coordinates.
    """
    if model is None or isinstance(model, (str, Path)):
        model, path = load(model, source=molecule.source)
    else:
        path = "(in memory)"
    require_model_domain(molecule, model)
    if model.needs_geometry and molecule.positions is None:
        raise InputError(f"{molecule.name or molecule.formula} has no 3D geometry, which this model needs")
    qm9_model = model.config.data is None  # else trained on a user's CSV: QM9's domain is beside the point
    warnings = list(molecule.warnings)
    if not qm9_model:
        qm9_domain = set(domain_problems(molecule))
        warnings = [w for w in warnings if w not in qm9_domain]
    if qm9_model and molecule.n_heavy_atoms <= _FEW_HEAVY_ATOMS:
        warnings.append(f"{molecule.n_heavy_atoms} heavy atoms: QM9 has only 48 molecules with 4 or fewer, so "
                        "predictions for such small molecules are far less accurate than the test MAE")
    rdkit_trained = model.config.data is not None or model.config.geometry == "rdkit"
    if model.needs_geometry and molecule.source == "smiles" and not rdkit_trained:
        warnings.append("the geometry comes from RDKit (ETKDG + MMFF), not from B3LYP like the training "
                        "geometries: expect errors above the model's test MAE")
    if model.needs_geometry and molecule.source != "smiles" and qm9_model and rdkit_trained:
        warnings.append(f"this model was trained on RDKit (ETKDG + MMFF) geometries, and this one comes from "
                        f"{molecule.source}: give the SMILES for the geometry it expects")
    t0 = time.perf_counter()
    values = predict_molecules(model, [molecule])  # TrainedModel.forward runs under no_grad
    elapsed = time.perf_counter() - t0
    result = Prediction(molecule, tuple(model.targets), values[0], path, elapsed, warnings=warnings)
    if lookup:
        _add_qm9(result, model, qm9)
    return result


def _add_qm9(result: Prediction, model, qm9) -> None:
    """QM9 labels and the molecule's part of the model's split, when the molecule is in QM9."""
    if qm9 is None:
        qm9 = load_qm9()
    rows = qm9.find(result.molecule)
    if not rows:
        return
    row = int(rows[0])
    result.qm9_row, result.qm9_index = row, int(qm9.qm9_index[row])
    keys = [t.key for t in result.targets]
    result.labels = np.array([qm9.targets[row, TARGET_KEYS.index(k)] if k in TARGET_KEYS else np.nan for k in keys])
    result.split_part = _split_part(model, qm9, row)
    if result.split_part == "train":
        result.warnings.append(f"QM9 {result.qm9_index} was in this model's training set: its error is not a test error")
    if len(rows) > 1:
        others = ", ".join(str(int(qm9.qm9_index[r])) for r in rows[1:4])
        result.warnings.append(f"other QM9 entries share this molecule's identity (stereoisomers): {others}")


def _split_part(model, qm9, row: int) -> str | None:
    """``train``/``val``/``test``/``none``: where QM9 row ``row`` was in the model's split (None if unknown)."""
    config = model.config
    if config.data is not None:  # trained on a user's CSV
        return None
    try:
        split = config.split_for(len(qm9), qm9.canonical_smiles)
    except InputError:  # e.g. a split file that is no longer there
        return None
    stored = (model.info.get("split") or {}).get("id")
    if stored and stored != split.id:
        return None
    for part in ("train", "val", "test"):
        if np.any(np.asarray(getattr(split, part)) == row):
            return part
    return "none"


__all__ = ["SHIPPED_MODEL", "SHIPPED_SMILES_MODEL", "shipped_model", "Prediction", "predict", "load"]
