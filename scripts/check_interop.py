#!/usr/bin/env python3
"""Checks that PyTorch and h5py take this tool's files as they are (run by the Swift tests).

1. The checkpoint's root datasets load into the PyTorch definition of the same model with
   `load_state_dict(strict=True)`: same names, same shapes.
2. That PyTorch model, in eval mode, reproduces the exported test-split logits from the raw
   IDX test images and the normalisation recorded in the logits file.
Prints "ok <max relative error>" or fails with a message.
"""
import gzip
import os
import re
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def idx_images(path):
    raw = open(path, "rb").read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)


def main(checkpoint, logits_path, images_path, model_name, extra):
    kw = dict(arg.split("=") for arg in extra)
    kw = {k: (float(v) if "." in v else int(v)) for k, v in kw.items()}
    with h5py.File(checkpoint, "r") as f:
        state = {k: torch.from_numpy(np.array(v)) for k, v in f.items() if isinstance(v, h5py.Dataset)}
    images = idx_images(images_path)
    model = models.build(model_name, in_channels=1, size=images.shape[2], **kw)
    model.load_state_dict(state, strict=True)
    model.eval()
    with h5py.File(logits_path, "r") as f:
        expected = np.array(f["logits"])
        norm = f.attrs["normalization"]
        norm = norm.decode() if isinstance(norm, bytes) else norm
    mean, std = (float(x) for x in re.findall(r"\[([^\]]+)\]", norm))
    x = torch.from_numpy((images.astype(np.float32) / 255 - mean) / std)
    with torch.no_grad():
        got = model(x).numpy()
    err = np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-6)
    if got.shape != expected.shape or err > 1e-3:
        sys.exit(f"logits differ: shape {got.shape} vs {expected.shape}, max relative error {err}")
    print(f"ok {err:.2e}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
