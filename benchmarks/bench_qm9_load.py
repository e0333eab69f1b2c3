"""How fast is QM9 ready to use? Loading molmtl's cache vs parsing qm9pack's CSVs, in one run.

    python benchmarks/bench_qm9_load.py [--repeats 5] [--skip-csv]

Prints seconds and the ratio; the figures go into BENCHMARKS.md by hand with this command.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import time

log = logging.getLogger("bench_qm9_load")


def time_cache_load(repeats: int) -> list[float]:
    """Seconds for a fresh Python process to import molmtl, load the cache and derive the 19 targets."""
    code = (
        "import time; t=time.perf_counter(); from molmtl.data.qm9 import load_qm9; ds=load_qm9(prepare=False); "
        "ds.targets; ds.molecule(0); print(time.perf_counter()-t)"
    )
    return [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeats)]


def time_csv_parse() -> float:
    """Seconds to read qm9pack's CSVs with pandas (the step the cache replaces, parsing excluded)."""
    import pandas as pd

    from molmtl.data.qm9 import qm9pack_data_dir

    folder = qm9pack_data_dir()
    t = time.perf_counter()
    for part in ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv", "qm9_polarizability.csv"):
        pd.read_csv(folder / part)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-csv", action="store_true", help="do not time the CSV reference")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from molmtl.data.qm9 import load_qm9

    load_qm9()  # build the cache if missing (not timed)
    loads = time_cache_load(args.repeats)
    med = statistics.median(loads)
    log.info("cache load (fresh process, import + load + 19 targets): median %.3f s, min %.3f s, max %.3f s over %d runs",
             med, min(loads), max(loads), len(loads))
    if not args.skip_csv:
        csv = time_csv_parse()
        log.info("reference: pandas.read_csv of qm9pack's 4 CSVs (no geometry parsing): %.2f s", csv)
        log.info("ratio: the cache is ready %.0fx faster than merely reading the CSVs", csv / med)


if __name__ == "__main__":
    main()
