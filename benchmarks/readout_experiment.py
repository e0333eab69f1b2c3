"""Train with some mean-readout targets switched to a sum readout (an experiment, not an option yet).

HOMO, LUMO and gap (and A, B, C) use a ``mean`` readout in the target registry. This script
switches the listed targets to ``sum`` for one ``molmtl train`` run (the scaler then also fits
per-element references for them, as for every sum target), so both readouts can be compared on
the same split and seed. The switch lives only in this process: a model file it writes rebuilds
with the registry's readouts, so evaluate with the printed test table, not the model file.

Usage::

    python benchmarks/readout_experiment.py --sum homo,lumo,gap -- train --encoder painn ... --out DIR
"""

from __future__ import annotations

import argparse
import sys

from molmtl import targets
from molmtl.cli import main as cli_main


def main() -> int:
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--sum", required=True, help="comma-separated target keys to read out by sum")
    args, rest = ap.parse_known_args()
    keys = {k.strip() for k in args.sum.split(",")}
    unknown = keys - {t.key for t in targets.TARGETS}
    if unknown:
        ap.error(f"unknown target keys: {', '.join(sorted(unknown))}")
    for t in targets.TARGETS:
        if t.key in keys:
            object.__setattr__(t, "readout", "sum")  # frozen dataclass: this process only
    return cli_main([a for a in rest if a != "--"])


if __name__ == "__main__":
    sys.exit(main())
