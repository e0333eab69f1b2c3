"""Markdown tables of a relatedness study folder, for docs/relatedness.md (nothing is computed
here that the study's CSV files do not hold: this formats them).

    python benchmarks/relate_doc_tables.py STUDY > tables.md
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from molmtl.relate.tables import markdown_matrix, read_matrix


def _section(title: str, body: str) -> str:
    return f"### {title}\n\n{body}\n"


def evaluate_table(study: Path) -> str:
    with open(study / "evaluate" / "evaluate.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]) + "\n" + "\n".join(
        "| " + " | ".join(r.values()) + " |" for r in rows) + "\n"


def main() -> None:
    study = Path(sys.argv[1])
    out = []
    tasks, coeff = read_matrix(study / "transfer" / "transfer.csv")
    out.append(_section("transfer C_ij (row i on encoder j)", markdown_matrix(coeff, tasks, corner="C_ij: i \\ j",
                                                                               fmt="{:.2f}")))
    tasks, tag = read_matrix(study / "tag" / "tag.csv")
    out.append(_section("TAG x 10^3", markdown_matrix(1e3 * tag, tasks, corner="10³ Z (row j after a step on column i)",
                                                      fmt="{:.2g}")))
    tasks, cos = read_matrix(study / "tag" / "gradient_cosine.csv")
    out.append(_section("gradient cosine", markdown_matrix(cos, tasks, corner="cos: i \\ j", fmt="{:.2f}")))
    out.append(_section("single-task runs and gains", (study / "gains" / "gains.md").read_text()))
    if (study / "evaluate" / "evaluate.csv").is_file():
        out.append(_section("evaluate", evaluate_table(study)))
    for folder in sorted((study / "compare").glob("*")) if (study / "compare").is_dir() else []:
        for md in sorted(folder.glob("*.md")):
            out.append(_section(f"compare {folder.name}: {md.name}", md.read_text()))
    for name in ("correlation", "transfer", "tag", "gains", "evaluate"):
        path = study / name / "summary.json"
        if path.is_file():
            body = json.loads(path.read_text())
            keep = {k: v for k, v in body.items() if k not in ("config", "tasks") and not isinstance(v, (list, dict))}
            out.append(_section(f"{name} summary", "```\n" + json.dumps(keep, indent=1) + "\n```"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
