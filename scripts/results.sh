#!/usr/bin/env bash
# Runs the results-page matrix (configs/results/*-*.yaml) for one seed, one
# config after another, then prints the Markdown table of docs/results.md.
#
# Usage: bash scripts/results.sh [SEED] [PATTERN]
#   PATTERN filters config names (a shell glob, default "*"); finished runs
#   (with a summary.json) are skipped, so the script can be rerun to resume.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
pattern=${2:-*}
[ -x build-release/apps/alumcl ] || {
    meson setup build-release -Dbuildtype=release -Dtests=false >/dev/null
    meson compile -C build-release alumcl >/dev/null
}
mkdir -p runs/results
for config in configs/results/$pattern.yaml; do
    name=$(basename "$config" .yaml)
    out="runs/results/$name-seed$seed"
    [ -f "$out/summary.json" ] && continue
    echo "=== $name seed $seed ==="
    ./build-release/apps/alumcl train "$config" "run.seed=$seed" --output "$out" --resume auto \
        > "$out.log" 2>&1 || { mkdir -p "$out"; echo "failed: see $out.log"; }
    tail -1 "$out.log"
done
/usr/bin/python3 tools/results_table.py runs/results
