#!/usr/bin/env python3
"""The PyTorch side of decoding an image folder: torchvision's ImageFolder with Resize((s, s))
and ToTensor through a DataLoader with 2 worker processes (the usual setting on 2 cores), over
train/ and test/; prints one JSON line like `kd-bench images`.

    /usr/bin/python3 scripts/bench_images.py FOLDER SIZE
"""
import json
import os
import sys
import time

import torch
import torchvision
from torchvision import transforms


def main(folder, size):
    size = int(size)
    pipeline = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    start = time.perf_counter()
    count = 0
    for split in ("train", "test"):
        data = torchvision.datasets.ImageFolder(os.path.join(folder, split), transform=pipeline)
        for images, _ in torch.utils.data.DataLoader(data, batch_size=64, num_workers=2):
            count += images.shape[0]
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": f"torchvision {torchvision.__version__} (PyTorch {torch.__version__}), DataLoader 2 workers",
                      "images": count, "size": size, "seconds": seconds, "images_per_s": count / seconds}))


if __name__ == "__main__":
    main(*sys.argv[1:])
