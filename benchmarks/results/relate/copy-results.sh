#!/usr/bin/env bash
# Copy a study's tables, figures and grouping files (not its trainings, runs/, nor TAG's
# checkpoint) into benchmarks/results/relate/<name>/: copy-results.sh STUDY NAME
set -euo pipefail
cd "$(dirname "$0")"
study=${1:?study folder}; name=${2:?name}
mkdir -p "$name"
for part in correlation transfer tag gains evaluate compare; do
    [ -d "$study/$part" ] || continue
    (cd "$study" && find "$part" -type f \( -name '*.csv' -o -name '*.md' -o -name '*.png' -o -name '*.json' \) \
        ! -name 'checkpoint.pt' -print0) | while IFS= read -r -d '' f; do
        mkdir -p "$name/$(dirname "$f")"; cp "$study/$f" "$name/$f"; done
done
