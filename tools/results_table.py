#!/usr/bin/python3
"""Print a Markdown table of alumcl runs from their summary.json files.

Usage: results_table.py RUNS_DIR

Each subdirectory NAME-seedS of RUNS_DIR with a summary.json becomes one row
with the command that made it, the seed, the epochs, the wall time, the last
and best test accuracy, and the AUROC of the mislabeled-sample ranking when
clean labels are known. Rows are sorted by name and seed.
"""
import json
import os
import re
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[2])
    root = sys.argv[1]
    rows = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry, "summary.json")
        match = re.match(r"(.+)-seed(\d+)$", entry)
        if not match or not os.path.exists(path):
            continue
        with open(path) as f:
            s = json.load(f)
        name, seed = match.group(1), match.group(2)
        ranking = s.get("rankings", {}).get(s.get("ranking", ""), {})
        auroc = f"{ranking['auroc']:.3f} ({s['ranking']})" if ranking else "-"
        rows.append((name, int(seed), s))
        command = f"`alumcl train configs/results/{name}.yaml run.seed={seed}`"
        print(f"| {name} | {s['method']} | {seed} | {s['epochs']} | {s['seconds'] / 60:.1f} | "
              f"{s['last_test_acc']:.2f} | {s['best_test_acc']:.2f} (ep {s['best_epoch']}) | "
              f"{auroc} | {command} |")
    if not rows:
        sys.exit(f"error: no run with a summary.json under {root}")


if __name__ == "__main__":
    main()
