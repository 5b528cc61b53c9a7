#!/usr/bin/python3
"""Convert PyTorch ResNet weights (torchvision layout) to an alumcl weights-only checkpoint.

Usage: /usr/bin/python3 tools/convert_torchvision.py IN.pth OUT.ckpt

IN.pth may hold a state dict, a dict that wraps one under "state_dict" or
"model", or a whole nn.Module. "module." prefixes (DataParallel) are removed
and batch-norm "num_batches_tracked" counters are dropped. Floating tensors
are stored as float32 and integer tensors as int32. The output follows
docs/checkpoint-format.md with step 0, epoch 0, no RNG state and no optimizer
tensors, and is written atomically (temporary file, fsync, rename).

torch.load unpickles IN.pth, which can run arbitrary code, so convert only
files from a trusted source.
"""
import argparse
import os
import pickle
import struct
import sys
import tempfile
import zlib

import torch

MAGIC = b"ALUMCKPT"
VERSION = 1
DTYPE_F32 = 0
DTYPE_I32 = 1
MAX_NAME_LEN = 95
MAX_RANK = 4


class ConversionError(Exception):
    pass


def extract_state_dict(obj):
    """Return the tensor dict inside obj, unwrapping modules and common checkpoint dicts."""
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, torch.nn.Module):
                return inner.state_dict()
            if isinstance(inner, dict):
                return inner
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    found = "a dict whose values are not all tensors" if isinstance(obj, dict) else \
        "a " + type(obj).__name__
    raise ConversionError(
        "the file contains neither a state dict nor a model but %s; save the model with "
        "torch.save(model.state_dict(), PATH)" % found)


def normalise(state_dict):
    """Return (name, tensor) pairs without "module." prefixes or num_batches_tracked."""
    tensors = []
    for name, value in state_dict.items():
        while name.startswith("module."):
            name = name[len("module."):]
        if name.endswith("num_batches_tracked"):
            continue
        if not isinstance(value, torch.Tensor):
            raise ConversionError("entry %s is a %s, not a tensor" % (name, type(value).__name__))
        if not name or len(name) > MAX_NAME_LEN or not name.isascii():
            raise ConversionError("tensor name %r must be ASCII with 1 to %d characters"
                                  % (name, MAX_NAME_LEN))
        if value.dim() < 1 or value.dim() > MAX_RANK:
            raise ConversionError("tensor %s has rank %d; the checkpoint format stores ranks 1 to %d"
                                  % (name, value.dim(), MAX_RANK))
        tensors.append((name, value.detach().cpu().contiguous()))
    names = [name for name, _ in tensors]
    if len(set(names)) != len(names):
        raise ConversionError("tensor names collide after removing \"module.\" prefixes")
    return tensors


def encode_tensor(name, tensor):
    if tensor.is_floating_point():
        dtype_code, data = DTYPE_F32, tensor.to(torch.float32).numpy().astype("<f4").tobytes()
    elif tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        if tensor.numel() and (tensor.min() < -2**31 or tensor.max() >= 2**31):
            raise ConversionError("integer tensor %s has values outside int32" % name)
        dtype_code, data = DTYPE_I32, tensor.to(torch.int32).numpy().astype("<i4").tobytes()
    else:
        raise ConversionError("tensor %s has unsupported dtype %s" % (name, tensor.dtype))
    encoded = name.encode("ascii")
    header = struct.pack("<I", len(encoded)) + encoded
    header += struct.pack("<II", dtype_code, tensor.dim())
    header += struct.pack("<%dI" % tensor.dim(), *tensor.shape)
    header += struct.pack("<Q", len(data))
    return header + data


def encode_checkpoint(tensors, metadata):
    meta = metadata.encode("utf-8")
    body = MAGIC + struct.pack("<IIqqQ", VERSION, len(tensors), 0, 0, len(meta)) + meta
    body += struct.pack("<Q", 0)  # no RNG state
    body += b"".join(encode_tensor(name, tensor) for name, tensor in tensors)
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def write_atomically(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="PyTorch file (.pth) with a state dict or a model")
    parser.add_argument("output", help="alumcl checkpoint to write")
    args = parser.parse_args(argv)
    try:
        obj = torch.load(args.input, map_location="cpu")
        tensors = normalise(extract_state_dict(obj))
        metadata = "source: %s\n" % os.path.basename(args.input)
        write_atomically(args.output, encode_checkpoint(tensors, metadata))
    except (ConversionError, OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        print("convert_torchvision.py: %s: %s" % (args.input, err), file=sys.stderr)
        return 1
    print("wrote %d tensors to %s" % (len(tensors), args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
