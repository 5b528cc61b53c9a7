#!/usr/bin/python3
"""Write the PyTorch reference values that tests/nn/test_layers_golden.c checks.

Run with Debian's interpreter, which has torch 1.13:

    /usr/bin/python3 tools/make_layer_golden.py [OUTPUT]

The default OUTPUT is tests/nn/golden/layers.txt. Inputs and parameters are
float32 values drawn here with a fixed seed. Every reference output is
computed in float64 from those same values, so the reference adds no float32
rounding of its own.

File format: one record per line pair. The first line is "NAME COUNT", the
second holds COUNT values in row-major order, printed with 9 significant
digits (enough to round-trip a float32).

Records:
    conv.*    Conv2d(3, 4, kernel 3, stride 2, padding 1, bias) on x [2,3,7,7]:
              x, weight, bias, dy, y, dx, dweight, dbias, where d* are the
              gradients of sum(dy * y)
    bn.*      BatchNorm2d(4) in training mode on x [3,4,5,5] (momentum 0.1,
              eps 1e-5): x, weight, bias, running_mean, running_var, dy, y, dx,
              dweight, dbias, running_mean_after, running_var_after, and
              eval_y, the evaluation-mode output with the initial running
              statistics
    bnrelu.*  the same batch norm followed by ReLU: y, dx, dweight, dbias
"""
import sys

import torch


def draw(generator, *shape, low=-1.0, high=1.0):
    values = torch.rand(*shape, generator=generator, dtype=torch.float32)
    return (values * (high - low) + low).double()


def write_record(out, name, tensor):
    values = tensor.detach().reshape(-1).tolist()
    out.write(f"{name} {len(values)}\n")
    out.write(" ".join(f"{v:.9g}" for v in values) + "\n")


def conv_records(generator):
    x = draw(generator, 2, 3, 7, 7).requires_grad_()
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=True).double()
    with torch.no_grad():
        conv.weight.copy_(draw(generator, 4, 3, 3, 3, low=-0.3, high=0.3))
        conv.bias.copy_(draw(generator, 4, low=-0.3, high=0.3))
    y = conv(x)
    dy = draw(generator, *y.shape)
    (y * dy).sum().backward()
    return [
        ("conv.x", x), ("conv.weight", conv.weight), ("conv.bias", conv.bias),
        ("conv.dy", dy), ("conv.y", y), ("conv.dx", x.grad),
        ("conv.dweight", conv.weight.grad), ("conv.dbias", conv.bias.grad),
    ]


def bn_records(generator):
    x0 = draw(generator, 3, 4, 5, 5, low=-2.0, high=3.0)
    weight = draw(generator, 4, low=0.5, high=1.5)
    bias = draw(generator, 4, low=-0.5, high=0.5)
    running_mean = draw(generator, 4, low=-0.5, high=0.5)
    running_var = draw(generator, 4, low=0.5, high=2.0)
    dy = draw(generator, 3, 4, 5, 5)
    records = [
        ("bn.x", x0), ("bn.weight", weight), ("bn.bias", bias),
        ("bn.running_mean", running_mean), ("bn.running_var", running_var), ("bn.dy", dy),
    ]

    for prefix, relu in (("bn", False), ("bnrelu", True)):
        bn = torch.nn.BatchNorm2d(4, eps=1e-5, momentum=0.1).double()
        with torch.no_grad():
            bn.weight.copy_(weight)
            bn.bias.copy_(bias)
            bn.running_mean.copy_(running_mean)
            bn.running_var.copy_(running_var)
        x = x0.clone().requires_grad_()
        y = bn(x)
        if relu:
            y = torch.relu(y)
        (y * dy).sum().backward()
        records += [
            (f"{prefix}.y", y), (f"{prefix}.dx", x.grad),
            (f"{prefix}.dweight", bn.weight.grad), (f"{prefix}.dbias", bn.bias.grad),
        ]
        if not relu:
            records += [
                ("bn.running_mean_after", bn.running_mean.clone()),
                ("bn.running_var_after", bn.running_var.clone()),
            ]
            bn.eval()
            with torch.no_grad():
                bn.running_mean.copy_(running_mean)
                bn.running_var.copy_(running_var)
                records.append(("bn.eval_y", bn(x0)))
    return records


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/nn/golden/layers.txt"
    generator = torch.Generator().manual_seed(20240611)
    records = conv_records(generator) + bn_records(generator)
    with open(path, "w") as out:
        for name, tensor in records:
            write_record(out, name, tensor)


if __name__ == "__main__":
    main()
