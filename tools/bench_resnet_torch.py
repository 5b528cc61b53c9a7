#!/usr/bin/python3
"""Time PyTorch's CPU training step of the ResNet-18 that bench/bench_resnet.c measures.

Run with Debian's interpreter (torch 1.13), as bench_resnet does:

    /usr/bin/python3 tools/bench_resnet_torch.py MIN_SECONDS BATCH [BATCH ...]

The model is tools/make_resnet_golden.py's ResNet-18 with the CIFAR stem,
width 1 and 10 classes, on random 3 x 32 x 32 images, in training mode. One
step is forward, cross-entropy, backward and an SGD update (lr 0.1, momentum
0.9, weight decay 5e-4), like bench_resnet. torch runs with 2 threads.

After one warm-up step, each batch size is timed over whole steps lasting at
least MIN_SECONDS (at least two steps). The script prints one line per batch,
"BATCH IMAGES_PER_SECOND MS_PER_STEP CPU_MS_PER_STEP MAX_RSS_MIB".
CPU_MS_PER_STEP is process CPU time, all threads included. MAX_RSS_MIB is the
process's peak resident memory so far, Python and torch included.
"""
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_golden import ResNet  # noqa: E402


def time_batch(batch, min_seconds):
    torch.manual_seed(0)
    model = ResNet(depth=18, stem="cifar", width=1.0, num_classes=10)
    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(batch, 3, 32, 32)
    labels = torch.randint(0, 10, (batch,))

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimiser.step()

    step()
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and steps >= 2:
            return elapsed / steps, (time.process_time() - cpu_start) / steps


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: bench_resnet_torch.py MIN_SECONDS BATCH [BATCH ...]")
    min_seconds = float(sys.argv[1])
    torch.set_num_threads(2)
    for batch in (int(b) for b in sys.argv[2:]):
        seconds, cpu_seconds = time_batch(batch, min_seconds)
        max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"{batch} {batch / seconds:.2f} {seconds * 1e3:.1f} {cpu_seconds * 1e3:.1f} "
              f"{max_rss_mib:.0f}", flush=True)


if __name__ == "__main__":
    main()
