#!/usr/bin/env bash
# The CPU relatedness study of docs/relatedness.md, in the order it was run (2 shared CPU cores,
# one training at a time). Every command resumes: a rerun keeps finished runs and rewrites the
# tables. STUDY holds the trainings (runs/, about 1 MB each); copy-results.sh copies the tables and
# figures (not the runs) into benchmarks/results/relate/cpu/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
STUDY=${STUDY:-/work/relate-study/cpu}
BUDGET=(--config benchmarks/results/relate/cpu-study.toml)
FAN=(--workers 1 --threads 1 --no-progress)
M=".venv/bin/molmtl"

nice -n 10 $M relate correlation --out "$STUDY"                                   # all 110,000 training labels
nice -n 10 $M relate correlation --out "$STUDY-t0.65" --threshold 0.65            # the early six groups?
nice -n 10 $M relate gains --out "$STUDY" "${BUDGET[@]}" --seeds 3 "${FAN[@]}"     # 171 pairs + 19 x 3 single-task
nice -n 10 $M relate transfer --out "$STUDY" "${BUDGET[@]}" "${FAN[@]}"            # reuses gains' seed-0 single-task runs
nice -n 10 $M relate tag --out "$STUDY" "${BUDGET[@]}" --threads 1 --no-progress
nice -n 10 $M relate evaluate --out "$STUDY"
# groupings compared on the budget (one seed each: a clustered run trains one encoder per group, and on
# 2 shared cores the correlation grouping's 9 encoders took 4 minutes), then the ten-task grouping 5x larger
nice -n 10 $M relate compare --out "$STUDY" "${BUDGET[@]}" --seeds 1 --name 4k "${FAN[@]}" \
    --groups "$STUDY/correlation/groups.json" "$STUDY/transfer/groups.json" "$STUDY/tag/groups.json" \
    benchmarks/results/relate/early-six.json
nice -n 10 $M relate compare --out "$STUDY" "${BUDGET[@]}" --max-molecules 20000 --seeds 1 --name 20k "${FAN[@]}" \
    --groups benchmarks/results/relate/early-six.json                             # the budget 5x larger
