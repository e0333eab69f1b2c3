"""How often RDKit embeds QM9's SMILES, and what the fallback geometries are worth to a model.

Embeds a random sample of QM9's canonical SMILES with :func:`molmtl.chem.embed.embed_rdkit`
(no store), counts plain ETKDG successes, heavy-atom fallbacks and failures, and times them.
Then the shipped model (or ``--model``) predicts the fallback molecules from their fallback
geometries, the same molecules from QM9's own geometries, and as many ordinary molecules from
their ETKDG + MMFF geometries; it prints the MAE of a few targets for each (display units).

With ``--attempts CAP [CAP ...]`` it measures instead what capping ETKDG's attempts per try
changes: each molecule's two ETKDG tries with RDKit's default (10 attempts per atom) and with each
cap, how many molecules get another outcome or other coordinates, and the time of each.

Usage::

    python benchmarks/embedding_fallback.py --n 4000 --seed 1
    python benchmarks/embedding_fallback.py --n 3000 --seed 11 --attempts 50 100
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("embedding_fallback")

KEYS = ("U0", "homo", "lumo", "gap", "mu", "alpha")


def _maes(model, dataset) -> dict[str, float]:
    from molmtl.inference import predict_dataset
    from molmtl.training.evaluate import target_metrics

    y, p = predict_dataset(model, dataset)
    return {r["key"]: r["mae"] for r in target_metrics(model.targets, y, p) if r["key"] in KEYS}


def _etkdg_tries(smiles: str, cap: int):
    """``(which try embedded: 0, 1 or None, coordinates or None)`` of embed_rdkit's two ETKDG tries."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from molmtl.chem.embed import EMBED_SEED, _params

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    for k, random_coords in enumerate((False, True)):
        if AllChem.EmbedMolecule(mol, _params("ETKDGv3", EMBED_SEED, random_coords, cap)) == 0:
            return k, mol.GetConformer().GetPositions()
    return None, None


def _attempts(n: int, seed: int, caps: list[int]) -> int:
    from molmtl.chem.rdkit_util import quiet_rdkit
    from molmtl.data.qm9 import load_qm9

    qm9 = load_qm9()
    rows = np.random.RandomState(seed).choice(len(qm9), n, replace=False)
    seconds = dict.fromkeys([0, *caps], 0.0)
    changed = dict.fromkeys(caps, 0)
    failed = dict.fromkeys([0, *caps], 0)
    with quiet_rdkit():
        for r in rows:
            smiles = qm9.smiles[int(r)]
            t0 = time.perf_counter()
            ref = _etkdg_tries(smiles, 0)
            seconds[0] += time.perf_counter() - t0
            failed[0] += ref[0] is None
            for cap in caps:
                t0 = time.perf_counter()
                got = _etkdg_tries(smiles, cap)
                seconds[cap] += time.perf_counter() - t0
                failed[cap] += got[0] is None
                same = got[0] == ref[0] and (ref[1] is None or np.array_equal(got[1], ref[1]))
                if not same:
                    changed[cap] += 1
                    log.info("cap %d changes %s: try %s -> %s", cap, smiles, ref[0], got[0])
    for cap in [0, *caps]:
        label = "RDKit's default" if cap == 0 else f"cap {cap}"
        extra = "" if cap == 0 else f", {changed[cap]} other outcome or coordinates ({100 * changed[cap] / n:.2f} %)"
        log.info("%s: %.1f s for %d molecules, %d failed both tries%s", label, seconds[cap], n, failed[cap], extra)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000, help="QM9 molecules to sample")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default=None, help="model file (default: the shipped model)")
    ap.add_argument("--attempts", type=int, nargs="+", default=None,
                    help="only compare ETKDG tries capped at these attempts with RDKit's default")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.attempts:
        return _attempts(args.n, args.seed, args.attempts)

    import torch

    torch.set_num_threads(1)
    from rdkit import Chem

    from molmtl.chem.embed import FALLBACK_PROP, embed_rdkit, rdkit_positions
    from molmtl.chem.molecule import Molecule
    from molmtl.data.batching import MolDataset
    from molmtl.data.qm9 import load_qm9
    from molmtl.errors import InputError
    from molmtl.methods.ml import load
    from molmtl.targets import TARGET_KEYS

    qm9 = load_qm9()
    model, path = load(args.model)
    rows = np.random.default_rng(args.seed).choice(len(qm9), args.n, replace=False)
    kinds, geometries, seconds = {}, {}, {"plain": 0.0, "fallback": 0.0, "failed": 0.0}
    for done, row in enumerate(rows, 1):
        t0 = time.perf_counter()
        try:
            mol = embed_rdkit(Chem.MolFromSmiles(qm9.canonical_smiles[row]))
            kind = "fallback" if mol.HasProp(FALLBACK_PROP) else "plain"
            z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()])
            geometries[int(row)] = Molecule(z, rdkit_positions(mol))
        except InputError:
            kind = "failed"
        seconds[kind] += time.perf_counter() - t0
        kinds[int(row)] = kind
        if done % 500 == 0:
            log.info("embedded %d/%d", done, len(rows))
    count = {k: sum(v == k for v in kinds.values()) for k in seconds}
    print(f"{args.n} QM9 molecules (seed {args.seed}), RDKit embedding:")
    for k in seconds:
        print(f"  {k:9s} {count[k]:5d} ({100 * count[k] / args.n:.2f} %), {seconds[k] / max(count[k], 1):.3f} s each")

    fallback = [r for r, k in kinds.items() if k == "fallback"]
    plain = [r for r, k in kinds.items() if k == "plain"][:max(len(fallback), 200)]
    print(f"\nMAE of {Path(path).name} ({', '.join(KEYS)}; meV, D, bohr^3):")
    sets = [(f"{len(fallback)} fallback molecules, fallback geometry", fallback, True),
            (f"{len(fallback)} fallback molecules, QM9 geometry", fallback, False),
            (f"{len(plain)} ordinary molecules, ETKDG + MMFF geometry", plain, True),
            (f"{len(plain)} ordinary molecules, QM9 geometry", plain, False)]
    for title, chosen, rdkit in sets:
        if not chosen:
            continue
        chosen = np.asarray(chosen)
        if rdkit:
            labels = qm9.targets[chosen][:, [TARGET_KEYS.index(k) for k in model.keys]]
            dataset = MolDataset([geometries[int(r)] for r in chosen], model.targets, labels)
        else:
            dataset = MolDataset(qm9.subset(chosen), model.targets)
        maes = _maes(model, dataset)
        shown = "  ".join(f"{k} {maes[k]:.3g}" for k in KEYS if k in maes)
        print(f"  {title:52s} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
