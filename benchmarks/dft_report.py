"""Render benchmarks/results/dft.md's tables from the JSON lines the DFT benchmarks wrote.

Usage: python benchmarks/dft_report.py   (prints Markdown: agreement tables, worst cases, timings)
"""

from __future__ import annotations

import json
from pathlib import Path

from dft_qm9_agreement import MEV, table

from molmtl.units import HARTREE_TO_EV

RESULTS = Path(__file__).parent / "results"


def worst(path: Path) -> str:
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = []
    for k in recs[0]["diff"]:
        v = max(abs(r["diff"][k]) for r in recs if k in r["diff"])
        shown = f"{v * 1000:.4f} mHa" if k == "e_elec" else f"{v * HARTREE_TO_EV * 1000:.3f} meV" if k in MEV else f"{v:.2e}"
        out.append(f"{k} {shown}")
    rel = max(abs(r["diff"][k]) / r["qm9"][k] for r in recs for k in "ABC" if r["qm9"][k])
    return "worst |ours - QM9| over these molecules: " + ", ".join(out) + f"; rotational constants max relative {rel:.1e}"


def timings(path: Path) -> str:
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    stages = ["xtb_preopt", "optimization", "scf", "properties", "polarizability", "hessian"]
    lines = ["| molecule | atoms | " + " | ".join(f"{s} (s)" for s in stages) + " | total (s) | load avg at end |",
             "|" + "---|" * (len(stages) + 4)]
    for r in recs:
        name = f"{r.get('qm9_index', r.get('molecule'))} {r['formula']}"
        cells = [f"{r['timings_s'][s]:.1f}" if s in r["timings_s"] else "-" for s in stages]
        load = r.get("load_avg_1min_at_end")
        lines.append(f"| {name} | {r['n_atoms']} | " + " | ".join(cells) + f" | {r['wall_s']:.1f} | "
                     + (f"{load:.1f}" if load is not None else "5-8 (not recorded)") + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    for name in ("dft_qm9_agreement.jsonl", "dft_qm9_agreement_nothermo.jsonl"):
        p = RESULTS / name
        if p.exists():
            print(f"### {name}\n\n{table(p)}\n\n{worst(p)}\n\n{timings(p)}\n")
    p = RESULTS / "dft_timing.jsonl"
    if p.exists():
        print(f"### dft_timing.jsonl\n\n{timings(p)}\n")
