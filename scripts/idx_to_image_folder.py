#!/usr/bin/env python3
"""Writes an IDX dataset (MNIST, Fashion-MNIST) as a torchvision ImageFolder of grey PNG files,
with nothing but Python's standard library:

    python3 scripts/idx_to_image_folder.py IMAGES.gz LABELS.gz OUT --classes "T-shirt/top,Trouser,..." --test-every 5

Image i goes to OUT/test/<class>/<i>.png when i % test_every == 0, else to OUT/train/<class>/;
a "/" in a class name becomes "_". OUT must not exist yet (nothing is overwritten); the folder is
built under a temporary name and renamed into place when complete.
"""
import argparse
import gzip
import os
import shutil
import struct
import sys
import zlib


def read_idx(path, magic):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or struct.unpack(">I", data[:4])[0] != magic:
        sys.exit(f"{path}: not an IDX file with magic {magic}")
    count = struct.unpack(">I", data[4:8])[0]
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        if len(data) != 16 + count * rows * cols:
            sys.exit(f"{path}: {len(data)} bytes, expected {16 + count * rows * cols}")
        return [data[16 + i * rows * cols:16 + (i + 1) * rows * cols] for i in range(count)], rows, cols
    if len(data) != 8 + count:
        sys.exit(f"{path}: {len(data)} bytes, expected {8 + count}")
    return list(data[8:]), None, None


def png_grey(pixels, width, height):
    """An 8-bit greyscale PNG: signature, IHDR, one IDAT (filter 0 on each row), IEND."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images")
    parser.add_argument("labels")
    parser.add_argument("out")
    parser.add_argument("--classes", required=True, help="comma-separated class names, by label")
    parser.add_argument("--test-every", type=int, default=5, help="every n-th image goes to test/ (default 5)")
    args = parser.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"{args.out}: exists already; remove it or choose another folder")
    images, rows, cols = read_idx(args.images, 2051)
    labels, _, _ = read_idx(args.labels, 2049)
    if len(images) != len(labels):
        sys.exit(f"{args.labels}: {len(labels)} labels for {len(images)} images")
    classes = [c.replace("/", "_") for c in args.classes.split(",")]
    if max(labels) >= len(classes):
        sys.exit(f"{args.labels}: label {max(labels)} but only {len(classes)} class names")
    tmp = args.out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for split in ("train", "test"):
        for c in classes:
            os.makedirs(os.path.join(tmp, split, c))
    for i, (pixels, label) in enumerate(zip(images, labels)):
        split = "test" if i % args.test_every == 0 else "train"
        with open(os.path.join(tmp, split, classes[label], f"{i:05d}.png"), "wb") as f:
            f.write(png_grey(pixels, cols, rows))
    os.rename(tmp, args.out)
    test = (len(images) + args.test_every - 1) // args.test_every
    print(f"wrote {len(images)} PNG files ({len(images) - test} train, {test} test, {len(classes)} classes) to {args.out}")


if __name__ == "__main__":
    main()
