"""``molmtl predict FILE`` throughput on a file of SMILES: this checkout with 1 and N embedding
workers, and another commit's code, in one run.

Each run starts from an empty geometry store (a fresh cache folder holding only the QM9 cache),
so every SMILES is embedded (RDKit ETKDG + MMFF) as a new user's first run embeds it. The file:
``--n`` molecules of the standard split's test part (``RandomState(--seed)``).

    python benchmarks/batch_predict.py --n 1000 --workers 2 --baseline ec0bcef --baseline 73b71e5
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from molmtl.config import TrainConfig
from molmtl.data.cache import cache_dir
from molmtl.data.qm9 import load_qm9

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from molmtl.cli import main; sys.argv[0] = 'molmtl'; main()"


def _sample(path: Path, n: int, seed: int) -> None:
    qm9 = load_qm9()
    test = np.asarray(TrainConfig().split_for(len(qm9), qm9.canonical_smiles).test)
    rows = np.random.RandomState(seed).choice(test, n, replace=False)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["smiles", "name"])
        w.writerows([qm9.smiles[r], f"qm9:{qm9.qm9_index[r]}"] for r in rows)


def _fresh_cache(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("qm9-v1.npz", "qm9-extras-v1.npz"):
        (folder / name).symlink_to(cache_dir() / name)
    return folder


def _run(args: list[str], src: Path, cache: Path) -> float:
    env = {**os.environ, "MOLMTL_CACHE": str(cache), "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLI, "-q", "predict", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"predict {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--baseline", action="append", default=[],
                   help="a commit whose 'molmtl predict FILE' runs beside (its default mode); repeat for more")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "mols.csv"
        _sample(data, args.n, args.seed)
        runs = {}
        for k, commit in enumerate(args.baseline):
            tree = tmp / f"baseline-{k}"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                           capture_output=True)
            try:
                runs[f"{commit} (default)"] = _run([str(data), "--out", str(tmp / f"b{k}.csv")], tree / "src",
                                                  _fresh_cache(tmp / f"cache-b{k}"))
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
        for w in (1, args.workers):
            out = tmp / f"w{w}.csv"
            runs[f"this checkout, --workers {w}"] = _run([str(data), "--out", str(out), "--workers", str(w), "--no-progress"],
                                                         ROOT / "src", _fresh_cache(tmp / f"cache-{w}"))
    ref = runs.get("this checkout, --workers 1")
    print(f"molmtl predict on {args.n} test-split SMILES (empty geometry store), {os.cpu_count()} CPU cores")
    print("| run | wall [s] | molecules/s | vs --workers 1 |\n|---|---|---|---|")
    for name, t in runs.items():
        print(f"| {name} | {t:.1f} | {args.n / t:.0f} | {ref / t:.2f}x |")


if __name__ == "__main__":
    main()
