#!/usr/bin/env python3
"""Small generated image sets in the layouts the examples' real data has, for `make examples`
(no downloads): each class a smooth random colour pattern, every image that pattern shifted a
little, with noise, so the classes can be learnt in an epoch or two.

    make_small_data.py folder OUT --classes 10 --train 20 --test 5 --size 32
        a torchvision ImageFolder (OUT/train/<class>/*.png, OUT/test/...), images per class
    make_small_data.py food11 OUT --train 12 --val 3 --test 3
        food-11's flat layout (OUT/training/<label>_<id>.jpg, validation/, evaluation/), images
        per class, of varied sizes around 300 x 280 as the real photographs vary
"""
import argparse
import os

import numpy as np
from PIL import Image


def pattern(rng, size):
    """A class's smooth pattern: a 4x4 grid of random colours, resized bilinearly."""
    grid = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    return np.asarray(grid.resize(size, Image.BILINEAR), dtype=np.float32)


def sample(rng, template, size):
    shifted = np.roll(template, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    noisy = shifted + rng.normal(0, 24, shifted.shape)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    return image if image.size == size else image.resize(size, Image.BILINEAR)


def folder(out, classes, per_split, size, seed):
    rng = np.random.default_rng(seed)
    templates = [pattern(rng, (size, size)) for _ in range(classes)]
    for split, count in per_split.items():
        for c in range(classes):
            d = os.path.join(out, split, f"class_{c}")
            os.makedirs(d, exist_ok=True)
            for i in range(count):
                sample(rng, templates[c], (size, size)).save(os.path.join(d, f"{i}.png"))


def food11(out, per_split, seed):
    rng = np.random.default_rng(seed)
    templates = [pattern(rng, (320, 320)) for _ in range(11)]
    for split, count in per_split.items():
        d = os.path.join(out, split)
        os.makedirs(d, exist_ok=True)
        for c in range(11):
            for i in range(count):
                w, h = int(rng.integers(280, 340)), int(rng.integers(260, 320))
                crop = Image.fromarray(templates[c].astype(np.uint8)).crop((0, 0, w, h))
                sample(rng, np.asarray(crop, dtype=np.float32), (w, h)).save(os.path.join(d, f"{c}_{i}.jpg"), quality=90)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("layout", choices=["folder", "food11"])
    p.add_argument("out")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--train", type=int, default=20)
    p.add_argument("--val", type=int, default=3)
    p.add_argument("--test", type=int, default=5)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.layout == "folder":
        folder(a.out, a.classes, {"train": a.train, "test": a.test}, a.size, a.seed)
    else:
        food11(a.out, {"training": a.train, "validation": a.val, "evaluation": a.test}, a.seed)
    print(f"wrote {a.layout} data to {a.out}")


if __name__ == "__main__":
    main()
