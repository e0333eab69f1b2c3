"""Would another signal rank the shipped models' errors better? Experiments behind docs/uncertainty.md.

The shipped sigma (method ``mlp``) reads the latent distance, the local validation residuals and a
small network's error scale, all from the molecule's mean-pooled embedding. For HOMO, LUMO and gap
its 10 % largest sigmas have only about 2x the MAE of the rest. Each experiment here adds or swaps
one signal and reports Spearman rho(|error|, sigma) / that MAE ratio on test molecules:

* ``inputs``: the error network fed the embedding plus the model's own predictions, the embedding
  plus max-pooled atom features, or trained on 20,000 training molecules' residuals instead of the
  validation part (fitted on the validation part, reported on the whole test part);
* ``noise`` (B3LYP model): the spread of the predictions over 4 Gaussian perturbations of the
  coordinates (0.02 and 0.05 Angstrom), alone and added to the log-sigma fit;
* ``conformers`` (SMILES model): the spread over the shipped ETKDG seed and 3 more seeds;
* ``member``: the disagreement with another model file (``--member``, e.g. a copy fine-tuned for
  one epoch with another seed: a two-member ensemble).

``noise`` and ``conformers`` cost an embedding or a prediction per draw, so they run on the first
``--n`` test molecules, and the extra feature is fitted on the even rows and reported on the odd
ones (the shipped sigma beside it on the same odd rows). Predictions are cached as for
``benchmarks/uncertainty.py``.

    python benchmarks/uncertainty_signals.py inputs noise conformers
    python benchmarks/uncertainty_signals.py member --member runs/b3lyp-seed1/model.pt
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from molmtl.data.cache import cache_dir
from molmtl.inference import load_model, predict_dataset
from molmtl.methods.ml import SHIPPED_MODEL, SHIPPED_SMILES_MODEL
from molmtl.training.data import model_data
from molmtl.uncertainty.calibrate import fit_calibration
from molmtl.uncertainty.data import PartOutputs, split_outputs
from molmtl.uncertainty.fit import fit_log_sigma
from molmtl.uncertainty.metrics import spearman, top_fraction_mae
from molmtl.uncertainty.network import fit_scale_network, scale_network

MODELS = {"b3lyp": (SHIPPED_MODEL, "qm9"), "smiles": (SHIPPED_SMILES_MODEL, "rdkit")}
FOCUS = ("mu", "alpha", "homo", "lumo", "gap", "U0")
CACHE = cache_dir() / "uncertainty"


def cell(err: np.ndarray, sigma: np.ndarray) -> str:
    ok = np.isfinite(err) & np.isfinite(sigma)
    top, rest = top_fraction_mae(err[ok], sigma[ok])
    return f"{spearman(np.abs(err[ok]), sigma[ok]):.2f} / {top / rest:.2f}"


def row(label: str, keys, err: np.ndarray, sigma: np.ndarray) -> str:
    return f"| {label} | " + " | ".join(cell(err[:, keys.index(k)], sigma[:, keys.index(k)]) for k in FOCUS) + " |"


def header(title: str) -> None:
    print(f"\n{title}\n\n| sigma | " + " | ".join(FOCUS) + " |\n|---|" + "---|" * len(FOCUS))


def load(name: str):
    path, geometry = MODELS[name]
    model = load_model(path)
    out = split_outputs(model, geometry=geometry, cache=CACHE)
    return model, geometry, out, fit_calibration(out, model.targets), [t.key for t in model.targets]


def refit_network(cal, out, val_x, test_x):
    """Test sigma of ``cal``'s design with its error network retrained on other inputs ``val_x``."""
    params, oof = fit_scale_network(val_x, out["val"].residuals)
    return sigma_from(cal, out, cal.design(out["val"].emb, leave_one_out=True, network_scale=oof),
                      cal.design(out["test"].emb, network_scale=scale_network(params, test_x)))


def sigma_from(cal, out, design_val, design_test, fit_rows=None):
    """exp of the log-linear fit of each property on the validation design (or on ``fit_rows`` of the test)."""
    T = design_test.shape[1]
    sigma = np.empty((len(design_test), T))
    for j in range(T):
        if fit_rows is None:
            c = fit_log_sigma(design_val[:, j], out["val"].residuals[:, j], nonnegative=(1,))
        else:
            c = fit_log_sigma(design_test[fit_rows, j], out["test"].residuals[fit_rows, j], nonnegative=(1,))
        sigma[:, j] = np.exp(design_test[:, j] @ c)
    return sigma


def inputs(name: str) -> None:
    model, geometry, out, cal, keys = load(name)
    val, test = out["val"], out["test"]
    header(f"{name} model, error-network inputs (all {len(test.emb)} test molecules): rho / ratio")
    print(row("shipped (mean embedding)", keys, test.residuals, cal.sigma(test.preds, test.emb)))
    mean, sd = val.preds.mean(axis=0), val.preds.std(axis=0) + 1e-12
    print(row("embedding + predictions", keys, test.residuals,
              refit_network(cal, out, np.c_[val.emb, (val.preds - mean) / sd], np.c_[test.emb, (test.preds - mean) / sd])))
    ref = out["reference"]
    params, _ = fit_scale_network(ref.emb, ref.residuals)
    g_val, g_test = scale_network(params, val.emb), scale_network(params, test.emb)
    print(row("network on training residuals", keys, test.residuals,
              sigma_from(cal, out, cal.design(val.emb, leave_one_out=True, network_scale=g_val),
                         cal.design(test.emb, network_scale=g_test))))
    ext = max_pooled(model, geometry)
    print(row("embedding + max-pooled atoms", keys, test.residuals,
              refit_network(cal, out, ext["val"].emb, ext["test"].emb)))


def max_pooled(model, geometry) -> dict[str, PartOutputs]:
    """Validation and test outputs whose embedding is [mean, max] of the atom features."""
    import molmtl.mtl.hard as hard
    from molmtl.models.base import masked_mean

    def mean_and_max(*feats):
        parts = []
        for f in feats:
            h = f.h.float()
            parts += [masked_mean(h, f.mask), h.masked_fill(~f.mask.bool()[..., None], -1e9).max(dim=1).values]
        return torch.cat(parts, dim=-1)

    before, hard.pooled = hard.pooled, mean_and_max
    try:
        return split_outputs(model, geometry=geometry, parts=("val", "test"), cache=cache_dir() / "uncertainty-max")
    finally:
        hard.pooled = before


class _Items(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def spread_experiment(loaded, n: int, draws: dict[str, list]) -> None:
    """``draws``: label -> list of test datasets (the first n test molecules, perturbed)."""
    name, (model, _, out, cal, keys) = loaded
    test = out["test"]
    base = cal.sigma(test.preds[:n], test.emb[:n])
    design = cal.design(test.emb[:n])
    odd = np.arange(n) % 2 == 1
    sub = {"test": PartOutputs(test.labels[:n], test.preds[:n], test.emb[:n], test.rows[:n])}
    err = test.residuals[:n][odd]
    header(f"{name} model, first {n} test molecules, fitted on even rows, reported on the {odd.sum()} odd rows: rho / ratio")
    print(row("shipped", keys, err, base[odd]))
    print(row("shipped features refit on the even rows", keys, err, sigma_from(cal, sub, None, design, fit_rows=~odd)[odd]))
    for label, datasets in draws.items():
        preds = np.stack([test.preds[:n]] + [predict_dataset(model, d)[1] for d in datasets])
        spread = np.log(preds.std(axis=0) + 1e-9)
        print(row(f"{label}: spread alone", keys, err, np.exp(spread[odd])))
        both = np.concatenate([design, spread[..., None]], axis=-1)
        print(row(f"{label}: shipped + spread (refit)", keys, err, sigma_from(cal, sub, None, both, fit_rows=~odd)[odd]))


def noise(n: int) -> None:
    loaded = load("b3lyp")
    model, geometry, out = loaded[:3]
    _, data = model_data(model, geometry)
    rows = out["test"].rows[:n]

    def perturbed(sd, seed):
        rng = np.random.default_rng(seed)
        items = []
        for r in rows:
            item = dict(data.test[int(r)])
            item["pos"] = item["pos"] + rng.normal(0, sd, item["pos"].shape).astype(item["pos"].dtype)
            items.append(item)
        return _Items(items)

    spread_experiment(("b3lyp", loaded), n, {f"noise {sd} A": [perturbed(sd, s) for s in range(4)] for sd in (0.02, 0.05)})


def conformers(n: int) -> None:
    from rdkit import Chem

    from molmtl.chem.embed import EMBED_SEED, embed_rdkit, rdkit_positions
    from molmtl.errors import InputError

    loaded = load("smiles")
    model, geometry, out = loaded[:3]
    _, data = model_data(model, geometry)
    rows = out["test"].rows[:n]
    smiles = data.qm9_parts["test"].smiles

    def embedded(seed):
        items = []
        for r in rows:
            item = dict(data.test[int(r)])
            try:
                mol = embed_rdkit(Chem.MolFromSmiles(smiles[int(r)]), seed=seed)
            except InputError:  # no geometry with this seed: the shipped one counts again
                items.append(item)
                continue
            item["z"] = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=item["z"].dtype)
            item["pos"] = rdkit_positions(mol).astype(item["pos"].dtype)
            items.append(item)
        return _Items(items)

    spread_experiment(("smiles", loaded), n, {"4 ETKDG conformers": [embedded(EMBED_SEED + s) for s in (1, 2, 3)]})


def member(name: str, path: Path) -> None:
    model, geometry, out, cal, keys = load(name)
    other = load_model(path)
    theirs = split_outputs(other, geometry=geometry, parts=("val", "test"), cache=CACHE)
    val, test = out["val"], out["test"]
    header(f"{name} model with {path} as a second member (all {len(test.emb)} test molecules): rho / ratio")
    print(row("shipped", keys, test.residuals, cal.sigma(test.preds, test.emb)))
    # the member's columns in the model's order; a target it lacks gets a constant (no information)
    cols = [other.keys.index(k) if k in other.keys else None for k in keys]

    def aligned(p):
        return np.stack([p[:, c] if c is not None else np.full(len(p), np.nan) for c in cols], axis=1)

    for part in ("val", "test"):  # the same molecules in the same order
        assert np.array_equal(out[part].rows, theirs[part].rows)
        np.testing.assert_allclose(aligned(theirs[part].labels), np.where(np.isnan(aligned(theirs[part].labels)), np.nan,
                                                                          out[part].labels), equal_nan=True)
    d_val = np.nan_to_num(np.log(np.abs(val.preds - aligned(theirs["val"].preds)) + 1e-9), nan=0.0)
    d_test = np.nan_to_num(np.log(np.abs(test.preds - aligned(theirs["test"].preds)) + 1e-9), nan=0.0)
    print(row("disagreement alone", keys, test.residuals, np.exp(d_test)))
    _, oof = fit_scale_network(val.emb, val.residuals)  # the out-of-fold scales the shipped fit used
    both_val = np.concatenate([cal.design(val.emb, leave_one_out=True, network_scale=oof), d_val[..., None]], axis=-1)
    both_test = np.concatenate([cal.design(test.emb), d_test[..., None]], axis=-1)
    print(row("shipped + disagreement (refit on validation)", keys, test.residuals, sigma_from(cal, out, both_val, both_test)))
    mae = lambda p, part: np.nanmean(np.abs(p - part.labels), axis=0)  # noqa: E731
    member_test = aligned(theirs["test"].preds)
    for k in FOCUS:
        j = keys.index(k)
        if cols[j] is None:
            continue
        print(f"  {k}: test MAE shipped {mae(test.preds, test)[j]:.4g}, member {mae(member_test, test)[j]:.4g}, "
              f"mean of both {mae((test.preds + member_test) / 2, test)[j]:.4g} (registry units)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiments", nargs="+", choices=("inputs", "noise", "conformers", "member"))
    p.add_argument("--models", default="b3lyp,smiles", help="for inputs and member: comma-separated b3lyp, smiles")
    p.add_argument("--n", type=int, default=3000, help="test molecules of the noise and conformer experiments")
    p.add_argument("--member", type=Path, help="a second model file, for the member experiment")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    for exp in args.experiments:
        if exp == "inputs":
            for name in names:
                inputs(name)
        elif exp == "noise":
            noise(args.n)
        elif exp == "conformers":
            conformers(args.n)
        elif args.member is None:
            p.error("the member experiment needs --member MODEL")
        else:
            member(names[0], args.member)


if __name__ == "__main__":
    main()
