#!/usr/bin/python3
"""Write a randomly initialised ResNet-18 in torchvision's layout for the converter test.

Usage: /usr/bin/python3 test_convert_make_state.py OUTDIR NUM_CLASSES

Writes OUTDIR/resnet18.pth, a {"state_dict": ...} dict whose keys carry a
DataParallel "module." prefix, and, when torchvision is installed,
OUTDIR/resnet18_model.pth holding the whole nn.Module. The expected values go
to OUTDIR/reference.txt (one "name numel" line per tensor, without
num_batches_tracked) and OUTDIR/reference.bin (the float32 values in that
order). Without torchvision the same names and shapes come from plain torch
modules.
"""
import os
import sys

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))


class ResNet18Layout(nn.Module):
    """Parameters and buffers of torchvision.models.resnet18 without its forward pass."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes = 64
        for index, planes in enumerate([64, 128, 256, 512]):
            stride = 1 if index == 0 else 2
            blocks = [BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)]
            setattr(self, "layer%d" % (index + 1), nn.Sequential(*blocks))
            in_planes = planes
        self.fc = nn.Linear(512, num_classes)


def build_model(num_classes):
    try:
        import torchvision
        return torchvision.models.resnet18(num_classes=num_classes), True
    except ImportError:
        return ResNet18Layout(num_classes), False


def main(out_dir, num_classes):
    torch.manual_seed(7)
    model, is_torchvision = build_model(num_classes)
    # make batch-norm statistics and affine terms differ from their defaults
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-1.0, 1.0)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(123)
    state = model.state_dict()
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3},
               os.path.join(out_dir, "resnet18.pth"))
    if is_torchvision:
        torch.save(model, os.path.join(out_dir, "resnet18_model.pth"))
    with open(os.path.join(out_dir, "reference.txt"), "w") as names, \
            open(os.path.join(out_dir, "reference.bin"), "wb") as values:
        for name, tensor in state.items():
            if name.endswith("num_batches_tracked"):
                continue
            names.write("%s %d\n" % (name, tensor.numel()))
            values.write(tensor.to(torch.float32).numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_convert_make_state.py OUTDIR NUM_CLASSES")
    main(sys.argv[1], int(sys.argv[2]))
