#!/usr/bin/python3
"""Plot alumcl run directories as PNG figures.

Usage: plot_runs.py [--out DIR] [--title TEXT] RUN_DIR [RUN_DIR ...]

Each RUN_DIR is an `alumcl train` output directory (metrics.csv, summary.json,
samples.csv). Writes into --out (default: the first run directory):
  test_accuracy.png     test accuracy per epoch, one line per run
  memorization.png      training accuracy on clean samples and, on mislabeled
                        samples, how often the wrong given label is fitted
  ranking_roc.png       ROC of every mislabeled-sample score in each run's samples.csv
Runs are labelled by their method and directory name. Needs matplotlib
(Debian: python3-matplotlib, for /usr/bin/python3).
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(run):
    path = os.path.join(run, "metrics.csv")
    if not os.path.exists(path):
        print(f"warning: skipping {run}: {path} not found (no finished epoch yet?)",
              file=sys.stderr)
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"warning: skipping {run}: metrics.csv has no epochs", file=sys.stderr)
        return None
    return rows


def column(rows, key):
    out = []
    for r in rows:
        try:
            out.append(float(r[key]))
        except (KeyError, ValueError):
            out.append(float("nan"))
    return out


def label_of(run):
    try:
        with open(os.path.join(run, "summary.json")) as f:
            method = json.load(f).get("method", "")
    except (OSError, ValueError):
        method = ""
    name = os.path.basename(os.path.normpath(run))
    return f"{method} ({name})" if method and method not in name else name


def roc_points(scores, positives):
    """Returns (fpr, tpr) lists for a descending-score ranking; ties move together."""
    pairs = sorted(((s, p) for s, p in zip(scores, positives) if s == s), key=lambda x: -x[0])
    n_pos = sum(p for _, p in pairs)
    n_neg = len(pairs) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    fpr, tpr, tp, fp = [0.0], [0.0], 0, 0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            tp += pairs[j][1]
            fp += 1 - pairs[j][1]
            j += 1
        fpr.append(fp / n_neg)
        tpr.append(tp / n_pos)
        i = j
    return fpr, tpr


SCORES = ("loss", "data_uncertainty", "model_entropy", "model_mutual_info")


def ranking_curves(run):
    """Returns [(score name, AUROC, (fpr, tpr))] for every score column of samples.csv."""
    path = os.path.join(run, "samples.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or rows[0].get("is_mislabeled") in (None, "-1"):
        return []
    positives = [int(r["is_mislabeled"]) for r in rows]
    curves = []
    for name in SCORES:
        if name not in rows[0]:
            continue
        scores = [float(r[name]) for r in rows]
        points = roc_points(scores, positives)
        if not points:
            continue
        fpr, tpr = points
        auroc = sum((fpr[i + 1] - fpr[i]) * (tpr[i + 1] + tpr[i]) / 2 for i in range(len(fpr) - 1))
        curves.append((name, auroc, points))
    return curves


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="alumcl train output directory")
    parser.add_argument("--out", help="directory for the PNG files (default: the first RUN_DIR)")
    parser.add_argument("--title", default="", help="title of the test-accuracy figure")
    args = parser.parse_args()
    out = args.out or args.runs[0]
    metrics = {run: read_metrics(run) for run in args.runs}
    metrics = {run: rows for run, rows in metrics.items() if rows}
    if not metrics:
        sys.exit("error: none of the run directories has a metrics.csv with an epoch")
    os.makedirs(out, exist_ok=True)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for run, rows in metrics.items():
        ax.plot(column(rows, "epoch"), column(rows, "test_acc"), marker="o", ms=3,
                label=label_of(run))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(args.title or "Test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "test_accuracy.png"), dpi=120)
    plt.close(fig)

    with_clean = {run: rows for run, rows in metrics.items()
                  if any(v == v for v in column(rows, "train_acc_clean"))}
    if with_clean:  # without clean labels there is nothing to compare
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for i, (run, rows) in enumerate(with_clean.items()):
            colour = f"C{i}"
            epochs = column(rows, "epoch")
            ax.plot(epochs, column(rows, "train_acc_clean"), color=colour,
                    label=f"{label_of(run)}: clean")
            ax.plot(epochs, column(rows, "train_acc_noisy_given"), color=colour, linestyle="--",
                    label=f"{label_of(run)}: mislabeled, fits wrong label")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy against the given label (%)")
        ax.set_title("Clean samples versus memorised wrong labels")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "memorization.png"), dpi=120)
        plt.close(fig)

    curves = {run: ranking_curves(run) for run in metrics}
    if any(curves.values()):
        fig, ax = plt.subplots(figsize=(5.2, 4.8))
        for i, (run, run_curves) in enumerate(curves.items()):
            for j, (score_name, auroc, (fpr, tpr)) in enumerate(run_curves):
                ax.plot(fpr, tpr, color=f"C{i}", linestyle=["-", "--", ":", "-."][j % 4],
                        label=f"{label_of(run)}: {score_name}, AUROC {auroc:.3f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8, label="chance")
        ax.set_xlabel("false positive rate (clean samples flagged)")
        ax.set_ylabel("true positive rate (mislabeled samples found)")
        ax.set_title("Mislabeled-sample ranking")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "ranking_roc.png"), dpi=120)
        plt.close(fig)
    print(f"wrote plots to {out}")


if __name__ == "__main__":
    main()
