#!/usr/bin/env bash
# The main job: installs what is missing (as root), builds alumcl, prepares
# CIFAR-10 with the CIFAR-10N "worse" human labels, trains ERM and ALUM side
# by side at a small scale and prints both test accuracies and the quality of
# ALUM's mislabeled-sample ranking.
#
# Usage: bash scripts/demo.sh [SEED]     (as root on a fresh Debian 12 machine,
#                                          or as a user once the packages exist)
# Environment: ALUMCL_SHARED_DATA (default ../shared/data), ALUMCL_DEVICE.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
shared=${ALUMCL_SHARED_DATA:-../shared/data}

# 1. packages
missing=$(for p in $(cat .ci/packages.txt); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
done)
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends $missing
    else
        echo "error: missing Debian packages: $missing" >&2
        echo "install them with: sudo apt-get install $missing" >&2
        exit 1
    fi
fi

# 2. build
[ -d build-release ] || meson setup build-release -Dbuildtype=release -Dtests=false >/dev/null
meson compile -C build-release alumcl >/dev/null
alumcl=./build-release/apps/alumcl

# 3. data
if [ ! -f data/cifar-10-batches-bin/test_batch.bin ]; then
    if [ ! -x "$shared/cifar10/make-cifar10-bin" ]; then
        cat >&2 <<MSG
error: $shared/cifar10 not found, so the CIFAR-10 binary files cannot be made.
Put the official CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin) in
data/cifar-10-batches-bin/ and the CIFAR-10N label file CIFAR-10_human.pt in
data/, then run again with ALUMCL_SHARED_DATA pointing at a folder that has
cifar-n/CIFAR-10_human.pt, or override the config keys data.root and
data.label_file on the alumcl command line.
MSG
        exit 1
    fi
    /usr/bin/python3 "$shared/cifar10/make-cifar10-bin" data
fi
labels="$shared/cifar-n/CIFAR-10_human.pt"
[ -f "$labels" ] || labels=data/CIFAR-10_human.pt

# 4. train ERM and ALUM on the same images, labels and seed; --resume auto
#    continues an interrupted run and leaves a finished one as it is
for method in erm alum; do
    echo "=== training $method (seed $seed) ==="
    "$alumcl" train "configs/demo/cifar10n-worse-$method.yaml" "run.seed=$seed" \
        "data.label_file=$labels" --output "runs/demo/$method-seed$seed" --resume auto
done

# 5. side by side
/usr/bin/python3 - "$seed" <<'PY'
import json, sys
seed = sys.argv[1]
runs = {m: json.load(open(f"runs/demo/{m}-seed{seed}/summary.json")) for m in ("erm", "alum")}
print("\nCIFAR-10N worse labels (%.1f %% wrong), seed %s" % (100 * runs["erm"]["noise_rate"], seed))
print("%-6s %14s %14s %18s" % ("method", "last test acc", "best test acc", "ranking AUROC"))
for m, s in runs.items():
    r = s.get("rankings", {}).get(s.get("ranking", ""), {})
    auroc = "%.4f (%s)" % (r["auroc"], s["ranking"]) if r else "-"
    print("%-6s %13.2f%% %13.2f%% %s" % (m, s["last_test_acc"], s["best_test_acc"], auroc))
print("\nfull outputs: runs/demo/*-seed%s/ (metrics.csv, samples.csv, summary.json)" % seed)
PY
