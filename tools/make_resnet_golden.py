#!/usr/bin/python3
"""Write the PyTorch reference outputs that tests/nn/test_resnet_golden.c checks.

Run with Debian's interpreter, which has torch 1.13:

    /usr/bin/python3 tools/make_resnet_golden.py [DIRECTORY]

The default DIRECTORY is tests/nn/golden. The first model is a
ResNet-18 with the CIFAR stem, width 0.125 (8/16/32/64 channels) and 10
classes, on a fixed batch of 4 x 3 x 16 x 16 images. Weights are float32
values drawn here. Every reference output is computed in float64 from those
float32 weights, so the reference carries no float32 rounding of its own.

File format (little-endian): the magic b"ALGT", uint32 version (1), uint32
record count, then per record: uint32 name length, the name in ASCII,
uint32 dtype (0 = float32, 1 = int32), uint32 ndim, ndim uint32 sizes, and
the elements in row-major order.

Records:
    input, labels                  the batch (float32 [N,3,H,W], int32 [N])
    <name>                         every parameter and batch-norm running
                                   statistic before any step, torchvision names
    eval_logits                    logits in evaluation mode (running statistics)
    logits, loss                   training-mode logits and mean cross-entropy
    grad.<name>                    d(loss)/d(parameter) for every parameter
    after.<buffer>                 running statistics after that training forward
    sgd_losses                     training-mode loss before each of three SGD
                                   steps (lr 0.1, momentum 0.9, no weight
                                   decay) and after the third, float32 [4]

Two files: resnet18_cifar.bin (the model above) and resnet50_imagenet.bin, a
ResNet-50 with the ImageNet stem, width 0.03125 (2/4/8/16 inner channels) and
5 classes on 4 x 3 x 48 x 48 images. The ResNet-50's SGD losses are written
but not tested, because its loss is chaotic in the weights: PyTorch's own
float32 and float64 runs part after one step.
"""

import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_channels(base, width):
    """Match the C side: max(1, round(base * width)) with halves rounded up."""
    return max(1, int(math.floor(base * width + 0.5)))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, channels, stride):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class Bottleneck(nn.Module):
    """torchvision v1.5 bottleneck: the stride sits on the 3x3 convolution."""

    expansion = 4

    def __init__(self, in_channels, channels, stride):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(nn.Module):
    """torchvision's ResNet layout and parameter names, with a CIFAR stem option."""

    def __init__(self, depth=18, stem="cifar", width=1.0, num_classes=10, in_channels=3):
        super().__init__()
        block, counts = {18: (BasicBlock, [2, 2, 2, 2]),
                         34: (BasicBlock, [3, 4, 6, 3]),
                         50: (Bottleneck, [3, 4, 6, 3])}[depth]
        stem_channels = scaled_channels(64, width)
        if stem == "cifar":
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 3, 1, 1, bias=False)
            self.maxpool = None
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        channels_in = stem_channels
        for index, (base, count) in enumerate(zip([64, 128, 256, 512], counts)):
            channels = scaled_channels(base, width)
            blocks = []
            for b in range(count):
                stride = 2 if (index > 0 and b == 0) else 1
                blocks.append(block(channels_in, channels, stride))
                channels_in = channels * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(channels_in, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomise(model, generator):
    """Draw float32 weights, batch-norm affines and running statistics that are far from defaults."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                bound = math.sqrt(6.0 / fan_in)
                module.weight.uniform_(-bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.uniform_(-0.2, 0.2, generator=generator)
                module.running_mean.uniform_(-0.1, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)


def write_records(path, records):
    with open(path, "wb") as f:
        f.write(b"ALGT")
        f.write(struct.pack("<II", 1, len(records)))
        for name, tensor in records:
            tensor = tensor.detach().contiguous()
            if tensor.dtype in (torch.int32, torch.int64):
                dtype_code, array = 1, tensor.to(torch.int32)
            else:
                dtype_code, array = 0, tensor.to(torch.float32)
            encoded = name.encode("ascii")
            f.write(struct.pack("<I", len(encoded)))
            f.write(encoded)
            f.write(struct.pack("<II", dtype_code, array.dim()))
            f.write(struct.pack(f"<{array.dim()}I", *array.shape))
            f.write(array.numpy().astype("<f4" if dtype_code == 0 else "<i4").tobytes())


def buffer_names(model):
    return [name for name, _ in model.named_buffers() if not name.endswith("num_batches_tracked")]


def make_golden(config, batch_shape, labels, seed):
    """Return the records for one network configuration and a random batch."""
    generator = torch.Generator().manual_seed(seed)
    model = ResNet(**config)
    randomise(model, generator)
    images = torch.rand(*batch_shape, generator=generator) * 2.0 - 1.0
    labels = torch.tensor(labels, dtype=torch.int32)

    # clone: model.double() and the SGD steps below change these tensors in place
    records = [("input", images), ("labels", labels)]
    records += [(name, p.detach().clone()) for name, p in model.named_parameters()]
    records += [(name, model.get_buffer(name).clone()) for name in buffer_names(model)]

    model = model.double()
    x = images.double()
    target = labels.long()

    # evaluation mode uses the running statistics and leaves them unchanged
    model.eval()
    with torch.no_grad():
        records.append(("eval_logits", model(x)))

    # one training forward and backward
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    records.append(("logits", logits))
    records.append(("loss", loss.reshape(1)))
    records += [("grad." + name, p.grad.clone()) for name, p in model.named_parameters()]
    records += [("after." + name, model.get_buffer(name).clone()) for name in buffer_names(model)]

    # three SGD steps from the same weights; the first loss is the one above
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.0)
    losses = [loss.item()]
    for _ in range(3):
        optimiser.step()
        optimiser.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        losses.append(loss.item())
    records.append(("sgd_losses", torch.tensor(losses)))
    return records


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "nn", "golden"))
    os.makedirs(directory, exist_ok=True)
    goldens = {
        "resnet18_cifar.bin": make_golden(
            dict(depth=18, stem="cifar", width=0.125, num_classes=10),
            (4, 3, 16, 16), [3, 7, 0, 3], seed=20260412),
        "resnet50_imagenet.bin": make_golden(
            dict(depth=50, stem="imagenet", width=0.03125, num_classes=5),
            (4, 3, 48, 48), [4, 1, 1, 0], seed=20260413),
    }
    for filename, records in goldens.items():
        path = os.path.join(directory, filename)
        write_records(path, records)
        losses = records[-1][1].tolist()
        print(f"wrote {len(records)} records to {path}; SGD losses {losses}")


if __name__ == "__main__":
    main()
