"""Cold ``molmtl predict`` wall time: this checkout against another commit's code, in one run, beside
the floor every prediction pays (``python -c "import torch, rdkit"``).

Each round runs the three commands once, in turn, in fresh processes (so the OS page cache is as
warm for one as for the others); the table gives the median of the rounds. The other commit is
checked out into a temporary git worktree and run with ``PYTHONPATH`` pointing at its ``src``.

    python benchmarks/cold_predict.py --baseline ec0bcef --rounds 7 --molecule CCO
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _time(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default=None, help="a commit to compare with (default: none)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--molecule", default="CCO")
    args = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    predict = [sys.executable, "-c", "import sys; from molmtl.cli import main; sys.argv[0] = 'molmtl'; main()",
               "predict", args.molecule]
    runs: dict[str, tuple[list[str], dict]] = {
        "python -c 'import torch, rdkit'": ([sys.executable, "-c", "import torch, rdkit"], env),
        "molmtl predict (this checkout)": (predict, {**env, "PYTHONPATH": str(ROOT / "src")}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            tree = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.baseline],
                           check=True, capture_output=True)
            runs[f"molmtl predict ({args.baseline})"] = (predict, {**env, "PYTHONPATH": str(tree / "src")})
        try:
            for cmd, e in runs.values():  # once each before timing: byte-compile, fill the page cache
                _time(cmd, e)
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, (cmd, e) in runs.items():
                    times[name].append(_time(cmd, e))
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    floor = statistics.median(times["python -c 'import torch, rdkit'"])
    print(f"cold wall time, median of {args.rounds} rounds, molecule {args.molecule}")
    print("| command | median [s] | min [s] | / import torch, rdkit [-] |\n|---|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {min(ts):.2f} | {med / floor:.2f} |")


if __name__ == "__main__":
    main()
