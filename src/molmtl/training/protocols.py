"""Named training protocols: published set-ups as :class:`TrainConfig` presets.

``standard``
    All 19 targets on QM9's standard random split (``RandomState(42)``: 110,000 / 10,000 /
    10,831), per-element references + standardization, PaiNN, hard sharing, cosine schedule,
    L1 loss on the normalized targets. L1, not MSE: with MSE the mean validation loss over 19
    targets was dominated by a few molecules' rotational constant A (QM9's A reaches hundreds of
    GHz) and jumped between 0.16 and 1.2 from epoch to epoch on one H100, so it picked the best
    checkpoint and stopped the run early by noise; with L1 it fell smoothly (BENCHMARKS.md, "QM9
    on one H100"). The GPU recipe of the shipped model adds ``--batch-size 1024 --lr 1e-3
    --epochs 72 --early-stopping 0 --precision bf16-mixed --compile --device-data``.

``libmtl``
    The QM9 benchmark of Nash-MTL (Navon et al., "Multi-Task Learning as a Bargaining Game",
    ICML 2022; code ``AvivNavon/nash-mtl``, ``experiments/quantum_chemistry``), also used by LibMTL,
    FAMO and Aligned-MTL. What it does, and what we do:

    * 11 targets (``LIBMTL_TARGETS``: mu, alpha, homo, lumo, r2, zpve, U0_atom, U_atom, H_atom,
      G_atom, cv; atomization energies as DimeNet); same here.
    * PyG's QM9 (130,831 molecules) shuffled once; test = first 10,000, validation = next 10,000,
      train = the other 110,831. Here: ``RandomState(seed).permutation`` cut to the same sizes
      (110,831 / 10,000 / 10,000), so the sizes match but not the rows.
    * Targets z-scored with training mean and standard deviation (no per-element references);
      same (``normalization="zscore"``).
    * Gilmer's MPNN, width 64, 3 steps of NNConv (mean) + GRU, Set2Set readout, then
      ``Linear(128, 64) -> ReLU -> Linear(64, 11)`` shared by all tasks. Here: our MPNN (width 64,
      3 steps, mean) and a Set2Set + MLP head per task. Their graph is the *complete* graph with
      interatomic distances as edge features (PyG's ``Complete`` + ``Distance`` transforms) on
      PyG's 11 atom features; ours is the bond graph with RDKit atom/bond features (a 2D model).
    * Adam, lr 1e-3, batch 120, MSE on normalized targets, 300 epochs, ``ReduceLROnPlateau``
      (factor 0.7, patience 5, min lr 1e-5) on validation; same (AdamW with no weight decay is
      Adam). Nash-MTL selects the epoch by validation Delta_m and steps the scheduler on it; we
      select and step on the mean normalized validation MSE.
    * Reported: test MAE per task (meV for homo, lumo, zpve and the four energies) and Delta_m
      against their STL numbers, :data:`LIBMTL_STL_MAE`.
"""

from __future__ import annotations

from molmtl.config import TrainConfig
from molmtl.errors import InputError
from molmtl.targets import LIBMTL_TARGETS, TARGET_KEYS

#: Nash-MTL's single-task test MAE (``BASE`` in experiments/quantum_chemistry/utils.py), display units
#: (D, bohr^3, meV, meV, bohr^2, meV, meV x4, cal/(mol K)).
LIBMTL_STL_MAE: dict[str, float] = dict(zip(LIBMTL_TARGETS, (
    0.0671, 0.1814, 60.576, 53.915, 0.5027, 4.539, 58.838, 64.244, 63.852, 66.223, 0.07212)))

#: Best Delta_m (%) in Nash-MTL's QM9 table (Nash-MTL itself), for comparison.
LIBMTL_BEST_DELTA_M = 58.5

PROTOCOLS: dict[str, dict] = {
    "standard": dict(
        tasks=TARGET_KEYS, encoder="painn", strategy="hard", weighting="equal", split="random",
        split_sizes=None, normalization="element", schedule="cosine", loss="l1",
    ),
    "libmtl": dict(
        tasks=LIBMTL_TARGETS, encoder="mpnn", encoder_hp={"hidden": 64, "steps": 3, "aggr": "mean"},
        head_hp={"set2set": True}, strategy="hard", weighting="equal", loss="mse",
        split="random:0", split_sizes=(110_831, 10_000), normalization="zscore",
        epochs=300, batch_size=120, lr=1e-3, weight_decay=0.0, schedule="plateau", plateau_factor=0.7,
        plateau_patience=5, min_lr_ratio=0.01, grad_clip=None, early_stopping=None,
    ),
}


def protocol_config(name: str, **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of protocol ``name`` with ``overrides`` applied."""
    key = name.strip().lower()
    if key not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of: {', '.join(PROTOCOLS)}")
    return TrainConfig(**{**PROTOCOLS[key], **overrides})


__all__ = ["PROTOCOLS", "LIBMTL_STL_MAE", "LIBMTL_BEST_DELTA_M", "protocol_config"]
