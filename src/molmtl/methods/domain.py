"""How far to trust the network on one molecule: sigma per property and a domain verdict.

The verdict is ``in``, ``near`` or ``outside`` the model's training domain, the worst of:

* the molecule's size against QM9's (QM9 models): at most 4 heavy atoms (QM9 has 48 such
  molecules) or 10 to 12 is ``near``; more than 12 is ``outside``;
* its geometry: a fallback embedding (ETKDG rejected it), or the other kind of geometry than the
  model was trained on (an MMFF geometry for the B3LYP-geometry model, or the reverse), is ``near``;
* the model's own representation (:func:`molmtl.uncertainty.domain.latent_verdict`): its latent
  distance to the training set against the test split's percentiles, and its sigma against the
  calibrated range.

Elements the model never saw, charges and unpaired electrons are not verdicts: the model refuses
them (:func:`molmtl.inference.require_model_domain`), pointing to GFN2-xTB. ``outside``, and
``near`` for a large sigma, come with a one-line suggestion to check with DFT and its estimated
time on this machine (from :mod:`molmtl.methods.estimate`, without importing PySCF).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from molmtl.chem.embed import FALLBACK_NOTE
from molmtl.chem.molecule import Molecule
from molmtl.inference import TrainedModel
from molmtl.methods.estimate import dft_seconds, qm9_basis_size
from molmtl.uncertainty.calibration import Calibration, calibration_of
from molmtl.uncertainty.domain import MIN_SIGMA_RATIO, latent_verdict
from molmtl.units import QM9_MAX_HEAVY_ATOMS

VERDICTS = ("in", "near", "outside")
#: Heavy atoms at most this many are "near" for a QM9 model (QM9 has 48 molecules of 1 to 4).
FEW_HEAVY_ATOMS = 4
#: Heavy atoms above QM9's 9 up to this many are "near"; more are "outside".
NEAR_HEAVY_ATOMS = 12


@dataclass
class Trust:
    """One molecule's error bars and domain verdict.

    Attributes:
        sigma: ``(T,)`` one standard deviation per property (registry units), or None for a model
            without a calibration.
        domain: ``{"verdict", "reasons", "suggestion"}`` (``suggestion`` a sentence or None).
    """

    sigma: np.ndarray | None
    domain: dict


def calibration(trained: TrainedModel) -> Calibration | None:
    """The model's calibration, parsed once per loaded model."""
    if "_calibration" not in trained.info:
        trained.info["_calibration"] = calibration_of(trained)
    return trained.info["_calibration"]


def _worse(a: str, b: str) -> str:
    return max(a, b, key=VERDICTS.index)


def structural_verdict(molecule: Molecule, trained: TrainedModel) -> tuple[str, list[str]]:
    """``(verdict, reasons)`` from the molecule's size and geometry against the model's training data."""
    verdict, reasons = "in", []
    heavy = molecule.n_heavy_atoms
    if trained.config.data is None:  # a QM9 model
        if heavy > NEAR_HEAVY_ATOMS:
            verdict = "outside"
            reasons.append(f"it has {heavy} heavy atoms; the model was trained on QM9's molecules of at most "
                           f"{QM9_MAX_HEAVY_ATOMS}")
        elif heavy > QM9_MAX_HEAVY_ATOMS:
            verdict = "near"
            reasons.append(f"it has {heavy} heavy atoms, a few more than QM9's {QM9_MAX_HEAVY_ATOMS}")
        elif heavy <= FEW_HEAVY_ATOMS:
            verdict = "near"
            reasons.append(f"it has {heavy} heavy atoms; QM9 has only 48 molecules of {FEW_HEAVY_ATOMS} or fewer, "
                           "which the model predicts far worse than its test MAE")
    if trained.needs_geometry:
        if FALLBACK_NOTE in molecule.warnings:
            verdict = _worse(verdict, "near")
            reasons.append("its 3D geometry comes from a fallback embedding (ETKDG rejected it)")
        rdkit_trained = trained.config.data is not None or trained.config.geometry == "rdkit"
        if (molecule.source == "smiles") != rdkit_trained:
            verdict = _worse(verdict, "near")
            kind = "an RDKit (ETKDG + MMFF)" if molecule.source == "smiles" else f"a {molecule.source}"
            reasons.append(f"it comes with {kind} geometry, not the kind the model was trained on")
    return verdict, reasons


def dft_suggestion(molecule: Molecule) -> str:
    """``check with DFT: molmtl compare MOL --methods ml,xtb,dft (DFT: about N minutes here)``."""
    if molecule.path:  # a file: the same geometry again
        target = molecule.path
    elif molecule.source == "smiles" and molecule.smiles:
        target = molecule.smiles
    else:
        target = molecule.name or molecule.smiles or molecule.formula
    line = f"check with DFT: molmtl compare {shlex.quote(str(target))} --methods ml,xtb,dft"
    n_basis = qm9_basis_size(molecule.atomic_numbers)
    if n_basis is not None:
        minutes = dft_seconds(n_basis, from_b3lyp=molecule.source == "qm9") / 60
        line += f" (DFT at QM9's level: about {minutes:.0f} minutes on this machine)" if minutes >= 1 else \
            " (DFT at QM9's level: under a minute on this machine)"
    return line


def assess(trained: TrainedModel, molecule: Molecule, values: np.ndarray, embedding: np.ndarray | None) -> Trust:
    """Sigma and the domain verdict of one prediction (``values`` ``(T,)``, ``embedding`` ``(E,)``)."""
    return assess_many(trained, [molecule], np.asarray(values)[None], [embedding])[0]


def assess_many(trained: TrainedModel, molecules: Sequence[Molecule], values: np.ndarray,
                embeddings: Sequence[np.ndarray | None]) -> list[Trust]:
    """:func:`assess` of several predictions (``values`` ``(n, T)``, one embedding or None each):
    the calibration's neighbour search runs once for all of them."""
    cal = calibration(trained)
    values = np.asarray(values, dtype=np.float64).reshape(len(molecules), -1)
    usable = [cal is not None and e is not None and len(e) > 0 for e in embeddings]
    sigmas, distances = {}, {}
    if any(usable):
        rows = [i for i, u in enumerate(usable) if u]
        emb = np.stack([np.asarray(embeddings[i], dtype=np.float32) for i in rows])
        sigma, dist = cal.sigma_and_distance(values[rows], emb)
        sigmas, distances = dict(zip(rows, sigma)), dict(zip(rows, dist))
    return [_trust(trained, cal, m, sigmas.get(i), distances.get(i), usable[i]) for i, m in enumerate(molecules)]


def _trust(trained: TrainedModel, cal, molecule: Molecule, sigma, distance, usable: bool) -> Trust:
    verdict, reasons = structural_verdict(molecule, trained)
    structural = verdict
    high_sigma = False
    if usable:
        latent, why = latent_verdict(float(distance), sigma, cal)
        if structural == "outside" and cal.sigma_p99 is not None:
            # beyond the sizes (or kinds) the model saw, no held-out molecule tells how large the error
            # is: sigma is raised to at least the test split's 99th percentile, a floor, not a calibration
            floor = np.asarray(cal.sigma_p99, dtype=np.float64)
            if np.any(sigma < floor):
                sigma = np.maximum(sigma, floor)
                why = [*why, "its sigma is at least the test split's 99th percentile for every property: no "
                             "calibration molecule is this far from QM9, so that is a floor, not an estimate"]
        verdict, reasons = _worse(verdict, latent), reasons + why
        if cal.sigma_p99 is not None and cal.median_sigma is not None:
            high_sigma = bool(np.any((sigma > cal.sigma_p99) & (sigma >= MIN_SIGMA_RATIO * cal.median_sigma)))
    else:
        sigma = None
        if cal is None:
            reasons.append("the model has no uncertainty calibration (molmtl calibrate MODEL adds one)")
    suggest = verdict == "outside" or (verdict == "near" and high_sigma)
    return Trust(sigma, {"verdict": verdict, "reasons": reasons, "suggestion": dft_suggestion(molecule) if suggest else None})


__all__ = ["Trust", "assess", "assess_many", "calibration", "structural_verdict", "dft_suggestion", "VERDICTS"]
