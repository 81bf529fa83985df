#!/usr/bin/env python3
"""Fashion-MNIST pairs: a harder 100-class image-store built from Fashion-MNIST on this machine.

Each image is two Fashion-MNIST images as its two channels (2 x 28 x 28); its class is
10 * (first class) + (second class), so the teacher's second and third choices carry the
confusions of both channels (shirt / T-shirt / pullover ...). Train and val pairs come from
disjoint parts of Fashion-MNIST's training images, test pairs from its test images; the pairs'
classes are drawn uniformly, so every class has about the same count. Writes <out>/images.h5 in
the layout of the `image-store` dataset kind.

usage: make_fashion_pairs.py FASHION_DIR OUT_DIR [--train 50000 --val 5000 --test 10000 --seed 0]
"""
import argparse, gzip, os
import numpy as np
import h5py

def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)

def pairs(images, labels, count, rng):
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    left, right = rng.integers(0, 10, count), rng.integers(0, 10, count)
    li = np.array([rng.choice(by_class[c]) for c in left])
    ri = np.array([rng.choice(by_class[c]) for c in right])
    out = np.stack([images[li], images[ri]], axis=1)  # N, 2, 28, 28 (the engine pools square planes only)
    return out, (10 * left + right).astype(np.int32)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("fashion"); p.add_argument("out")
    p.add_argument("--train", type=int, default=50000); p.add_argument("--val", type=int, default=5000)
    p.add_argument("--test", type=int, default=10000); p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    tx, ty = idx(os.path.join(a.fashion, "train-images-idx3-ubyte.gz")), idx(os.path.join(a.fashion, "train-labels-idx1-ubyte.gz"))
    sx, sy = idx(os.path.join(a.fashion, "t10k-images-idx3-ubyte.gz")), idx(os.path.join(a.fashion, "t10k-labels-idx1-ubyte.gz"))
    order = rng.permutation(len(ty))
    held = order[:6000]  # val pairs come from these images only, train pairs from the rest
    rest = order[6000:]
    splits = {"train": pairs(tx[rest], ty[rest], a.train, rng), "val": pairs(tx[held], ty[held], a.val, rng),
              "test": pairs(sx, sy, a.test, rng)}
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, ".images.h5.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["class_names"] = "\n".join(f"{l}+{r}" for l in range(10) for r in range(10))
        for s, (x, y) in splits.items():
            f.create_dataset(f"{s}/images", data=x)  # contiguous, as the store expects
            f.create_dataset(f"{s}/labels", data=y)
    os.replace(tmp, os.path.join(a.out, "images.h5"))
    print(f"{a.out}/images.h5: " + ", ".join(f"{s} {len(y)}" for s, (_, y) in splits.items()) + " images of 2x28x28, 100 classes")

if __name__ == "__main__":
    main()
