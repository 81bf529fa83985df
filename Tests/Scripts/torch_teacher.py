#!/usr/bin/env python3
"""The PyTorch side of ImportTorchTeacherTests (Debian's python3-torch, -torchvision, -h5py).

    torch_teacher.py make ARCH NUM_CLASSES SEED OUT.pt
        A randomly initialised torchvision model (no download) with random BatchNorm affine
        parameters and running statistics, so evaluation mode is not an identity; saved with
        torch.save(model.state_dict()).
    torch_teacher.py forward ARCH STATE_DICT FOLDER SIZE MEAN,.. STD,.. OUT.h5
        torchvision's own pipeline over an ImageFolder: Resize((SIZE, SIZE)), ToTensor(),
        Normalize(MEAN, STD), the model in evaluation mode; writes logits [N, K] and targets [N].
"""
import sys

import h5py
import torch
import torchvision
from torchvision import transforms


def make(arch, num_classes, seed, out):
    torch.manual_seed(int(seed))
    model = getattr(torchvision.models, arch.replace("torchvision_", ""))(num_classes=int(num_classes))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    torch.save(model.state_dict(), out)


def forward(arch, state_dict, folder, size, mean, std, out):
    torch.set_num_threads(2)
    mean = [float(v) for v in mean.split(",")]
    std = [float(v) for v in std.split(",")]
    pipeline = transforms.Compose([transforms.Resize((int(size), int(size))), transforms.ToTensor(), transforms.Normalize(mean, std)])
    data = torchvision.datasets.ImageFolder(folder, transform=pipeline)
    state = torch.load(state_dict)
    model = getattr(torchvision.models, arch.replace("torchvision_", ""))(num_classes=state["fc.weight"].shape[0])
    model.load_state_dict(state)
    model.eval()
    images = torch.stack([data[i][0] for i in range(len(data))])
    with torch.no_grad():
        logits = model(images)
    with h5py.File(out, "w") as f:
        f.create_dataset("logits", data=logits.numpy())
        f.create_dataset("targets", data=torch.tensor(data.targets, dtype=torch.int32).numpy())
        f.attrs["files"] = "\n".join(p for p, _ in data.samples)


if __name__ == "__main__":
    {"make": make, "forward": forward}[sys.argv[1]](*sys.argv[2:])
