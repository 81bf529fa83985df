#!/usr/bin/env python3
"""torchvision's functional transforms on a uint8 image tensor, for TransformTests: each case
of CASES.json is RandomCrop(crop, padding, pad_if_needed, padding_mode) at a given corner,
then an optional horizontal flip, then RandomRotation's F.rotate at a given angle with fill 0;
or CenterCrop(crop). The outputs go to OUT.h5 as uint8 datasets named by case index.

    torch_transforms.py IMAGE.h5 CASES.json OUT.h5
"""
import json
import sys

import h5py
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode


def apply(img, case):
    if case.get("center"):
        return F.center_crop(img, [case["crop"], case["crop"]])
    mode = case["mode"]
    if case["padding"] > 0:
        img = F.pad(img, case["padding"], fill=0, padding_mode=mode)
    crop = case["crop"]
    if case["pad_if_needed"] and img.shape[-1] < crop:
        img = F.pad(img, [crop - img.shape[-1], 0], fill=0, padding_mode=mode)
    if case["pad_if_needed"] and img.shape[-2] < crop:
        img = F.pad(img, [0, crop - img.shape[-2]], fill=0, padding_mode=mode)
    img = F.crop(img, case["top"], case["left"], crop, crop)
    if case["flip"]:
        img = F.hflip(img)
    if case["angle"] != 0:
        interpolation = InterpolationMode.BILINEAR if case["interpolation"] == "bilinear" else InterpolationMode.NEAREST
        img = F.rotate(img, case["angle"], interpolation=interpolation, fill=[0.0] * img.shape[0])
    return img


def main(image_path, cases_path, out_path):
    with h5py.File(image_path, "r") as f:
        img = torch.from_numpy(f["image"][()])
    with open(cases_path) as f:
        cases = json.load(f)
    with h5py.File(out_path, "w") as f:
        for i, case in enumerate(cases):
            f[str(i)] = apply(img, case).numpy()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
