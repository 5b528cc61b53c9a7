#!/usr/bin/python3
"""Time PyTorch's CPU layers on the shapes that bench/bench_layers.c measures.

Run with Debian's interpreter (torch 1.13), as bench_layers does:

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 tools/bench_layers_torch.py [MIN_SECONDS]

torch runs with 2 threads. For each layer the script prints one line
"LABEL FORWARD_MS BACKWARD_MS", where backward is the time of forward plus
backward minus the forward time, each the mean over repeats lasting at least
MIN_SECONDS (default 1.0). The labels and shapes must match LAYERS in
bench/bench_layers.c.
"""
import sys
import time

import torch
import torch.nn.functional as F


def conv(n, cin, cout, size, kernel, stride, padding):
    layer = torch.nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
    return layer, torch.randn(n, cin, size, size)


def batchnorm(n, c, size):
    return torch.nn.BatchNorm2d(c), torch.randn(n, c, size, size)


# label, module, input: keep in step with LAYERS in bench/bench_layers.c
def layers():
    return [
        ("conv3x3 64->64 32x32 b64", *conv(64, 64, 64, 32, 3, 1, 1)),
        ("conv3x3 128->128 16x16 b64", *conv(64, 128, 128, 16, 3, 1, 1)),
        ("conv3x3 256->256 8x8 b64", *conv(64, 256, 256, 8, 3, 1, 1)),
        ("conv3x3 512->512 4x4 b64", *conv(64, 512, 512, 4, 3, 1, 1)),
        ("conv3x3 s2 64->128 32x32 b64", *conv(64, 64, 128, 32, 3, 2, 1)),
        ("conv1x1 s2 64->128 32x32 b64", *conv(64, 64, 128, 32, 1, 2, 0)),
        ("conv3x3 3->64 32x32 b64", *conv(64, 3, 64, 32, 3, 1, 1)),
        ("conv7x7 s2 3->64 112x112 b8", *conv(8, 3, 64, 112, 7, 2, 3)),
        ("batchnorm 64 32x32 b64", *batchnorm(64, 64, 32)),
        ("maxpool3x3 s2 64 56x56 b16", torch.nn.MaxPool2d(3, 2, 1), torch.randn(16, 64, 56, 56)),
        ("linear 512->10 b64", torch.nn.Linear(512, 10), torch.randn(64, 512)),
    ]


def mean_seconds(step, min_seconds):
    step()
    repeats, start = 0, time.perf_counter()
    while True:
        step()
        repeats += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / repeats


def main():
    min_seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    torch.set_num_threads(2)
    for label, module, x in layers():
        x.requires_grad_()
        dy = torch.randn_like(module(x))

        def forward():
            with torch.no_grad():
                module(x)

        def forward_backward():
            module(x).backward(dy)

        forward_s = mean_seconds(forward, min_seconds)
        total_s = mean_seconds(forward_backward, min_seconds)
        print(f"{label}\t{forward_s * 1e3:.3f}\t{(total_s - forward_s) * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main()
