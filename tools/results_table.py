#!/usr/bin/python3
"""Print a Markdown table of alumcl runs from their summary.json files.

Usage: results_table.py RUNS_DIR

Each subdirectory NAME-seedS of RUNS_DIR with a summary.json becomes one row
with the command that made it, the seed, the epochs, the wall time in
minutes, the last and best test accuracy, and the AUROC of the loss and of
the data-uncertainty rankings of mislabeled samples when clean labels are
known. Rows are sorted by name and seed.
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
    print("| run | method | seed | epochs | minutes | last test acc (%) | best test acc (%) | "
          "loss AUROC | data-uncertainty AUROC | command |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry, "summary.json")
        match = re.match(r"(.+)-seed(\d+)$", entry)
        if not match or not os.path.exists(path):
            continue
        with open(path) as f:
            s = json.load(f)
        name, seed = match.group(1), match.group(2)
        rankings = s.get("rankings", {})

        def auroc(score):
            value = rankings.get(score, {}).get("auroc")
            return f"{value:.3f}" if value is not None else "-"

        def number(key, scale=1.0, digits=2):
            value = s.get(key)
            return f"{value * scale:.{digits}f}" if value is not None else "-"

        rows.append((name, int(seed), s))
        command = f"`alumcl train configs/results/{name}.yaml run.seed={seed}`"
        print(f"| {name} | {s['method']} | {seed} | {s['epochs']} | "
              f"{number('seconds', 1 / 60, 1)} | {number('last_test_acc')} | "
              f"{number('best_test_acc')} (ep {s['best_epoch']}) | "
              f"{auroc('loss')} | {auroc('data_uncertainty')} | {command} |")
    if not rows:
        sys.exit(f"error: no run with a summary.json under {root}")


if __name__ == "__main__":
    main()
