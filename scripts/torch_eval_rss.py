#!/usr/bin/env python3
"""Peak RSS of PyTorch evaluating a torchvision model, the peer of `teacher-export`'s memory
(BENCHMARKS.md, "Memory at 224 pixels"): random weights, eval mode, no_grad, 2 threads,
`--images` random images at `--size` in batches of `--batch`. Prints one JSON line.

    /usr/bin/python3 scripts/torch_eval_rss.py resnet50 --batch 32
"""
import argparse, json, resource, time

import torch
import torchvision

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("model", help="a torchvision.models name, e.g. resnet50")
p.add_argument("--batch", type=int, default=32)
p.add_argument("--images", type=int, default=64)
p.add_argument("--size", type=int, default=224)
p.add_argument("--train", action="store_true", help="a training step (SGD) per batch instead of evaluation")
a = p.parse_args()
torch.set_num_threads(2)
model = getattr(torchvision.models, a.model)(num_classes=1000)
start = time.time()
if a.train:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(0, a.images, a.batch):
        x, y = torch.randn(a.batch, 3, a.size, a.size), torch.randint(0, 1000, (a.batch,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
else:
    model.eval()
    with torch.no_grad():
        for _ in range(0, a.images, a.batch):
            model(torch.randn(a.batch, 3, a.size, a.size))
print(json.dumps({"impl": "pytorch " + torch.__version__, "model": a.model, "mode": "train" if a.train else "eval",
                  "batch": a.batch, "size": a.size, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "seconds": round(time.time() - start, 1)}))
