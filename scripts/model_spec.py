#!/usr/bin/env python3
"""The PyTorch side of `model_spec`: builds the nn.Module a network spec describes, with the
same module tree (and so the same state_dict names) as the Swift engine's build of it
(Sources/Shared/Engine/Models/NetworkSpec+Build.swift).

    import model_spec; net = model_spec.build(json.load(open("student.json")), (3, 256, 256), 11)

Each list of layers is an nn.Sequential whose children are named by their "name", else by
their index; a residual block is `Residual` with children `body` (or its "body_name") and
`shortcut`. Run as a script, it takes one SGD step from a checkpoint this tool wrote, for the
parity test (Tests/KDTests/ModelSpecTests.swift):

    model_spec.py step SPEC|torchvision:NAME CLASSES CHECKPOINT.h5 INPUT.h5 OUT.h5

and, for the fine-tuning test, STEPS Adam or SGD steps with the parameters under the comma-separated
FROZEN prefixes frozen (requires_grad=False, and every BatchNorm whose parameters are all frozen
in eval mode: the semantics the engine chose):

    model_spec.py finetune SPEC CLASSES CHECKPOINT.h5 INPUT.h5 OUT.h5 FROZEN STEPS adam|sgd
"""
import collections
import json
import sys

import torch
import torch.nn as nn


class Residual(nn.Module):
    """y = body(x) + shortcut(x) (x without a shortcut), then a ReLU if asked."""

    def __init__(self, body, shortcut, relu_after, body_name="body"):
        super().__init__()
        self.body_name = body_name
        self.add_module(body_name, body)
        self.shortcut = shortcut
        self.relu_after = relu_after

    def forward(self, x):
        y = getattr(self, self.body_name)(x) + (self.shortcut(x) if self.shortcut is not None else x)
        return torch.relu(y) if self.relu_after else y


def _sequential(layers, shape, classes):
    children = collections.OrderedDict()
    for i, spec in enumerate(layers):
        module, shape = _layer(spec, shape, classes)
        children[spec.get("name", str(i))] = module
    return nn.Sequential(children), shape


def _out(spec, classes):
    return classes if spec["out"] == "classes" else spec["out"]


def _pool_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _layer(spec, shape, classes):
    t = spec["type"]
    if t == "conv":
        out, k = _out(spec, classes), spec["kernel"]
        s, p = spec.get("stride", 1), spec.get("padding", 0)
        m = nn.Conv2d(shape[0], out, k, s, p, groups=spec.get("groups", 1), bias=spec.get("bias", True))
        return m, (out, _pool_size(shape[1], k, s, p), _pool_size(shape[2], k, s, p))
    if t == "batchnorm":
        norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return norm(shape[0], eps=spec.get("eps", 1e-5), momentum=spec.get("momentum", 0.1)), shape
    if t in ("relu", "relu6", "flatten", "global_avgpool"):
        if t == "flatten":
            size = 1
            for d in shape:
                size *= d
            return nn.Flatten(), (size,)
        if t == "global_avgpool":
            return nn.AdaptiveAvgPool2d(1), (shape[0], 1, 1)
        return (nn.ReLU() if t == "relu" else nn.ReLU6()), shape
    if t == "leaky_relu":
        return nn.LeakyReLU(spec.get("negative_slope", 0.01)), shape
    if t in ("maxpool", "avgpool"):
        k = spec["kernel"]
        s, p = spec.get("stride", k), spec.get("padding", 0)
        m = nn.MaxPool2d(k, s, p) if t == "maxpool" else nn.AvgPool2d(k, s, p)
        return m, (shape[0], _pool_size(shape[1], k, s, p), _pool_size(shape[2], k, s, p))
    if t == "linear":
        out = _out(spec, classes)
        return nn.Linear(shape[0], out, bias=spec.get("bias", True)), (out,)
    if t == "dropout":
        return nn.Dropout(spec.get("p", 0.5)), shape
    if t == "sequential":
        return _sequential(spec["layers"], shape, classes)
    if t == "residual":
        body, out = _sequential(spec["body"], shape, classes)
        shortcut = _sequential(spec["shortcut"], shape, classes)[0] if spec.get("shortcut") else None
        return Residual(body, shortcut, spec.get("relu_after", False), spec.get("body_name", "body")), out
    raise ValueError(f"unknown layer type {t!r}")


def build(spec, input_shape, classes):
    """The nn.Sequential `spec` describes, for samples of `input_shape` (C, H, W)."""
    return _sequential(spec["layers"], tuple(input_shape), classes)[0]


def _step(which, classes, checkpoint, inputs, out):
    """One SGD step from the checkpoint, in float64 (written to OUT) and in float32 (to
    OUT with .float32 before its suffix): the test holds the engine's float32 error against
    float64 to what PyTorch's own float32 makes, which deep networks in training mode amplify."""
    import h5py
    with h5py.File(inputs, "r") as f:
        x = torch.from_numpy(f["x"][()])
        labels = torch.from_numpy(f["labels"][()]).long()
        lr = float(f.attrs["learning_rate"])
    with h5py.File(checkpoint, "r") as f:
        state = {k: torch.as_tensor(f[k][()]) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    for dtype, path in [(torch.float64, out), (torch.float32, out.replace(".h5", ".float32.h5"))]:
        if which.startswith("torchvision:"):
            import torchvision
            net = getattr(torchvision.models, which.split(":", 1)[1])(num_classes=classes)
        else:
            with open(which) as f:
                net = build(json.load(f), x.shape[1:], classes)
        for m in net.modules():  # masks cannot match the engine's: the test compares without
            if isinstance(m, nn.Dropout):
                m.p = 0.0
        net.load_state_dict(state, strict=True)
        net.to(dtype).train()
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
        logits = net(x.to(dtype))
        loss = nn.functional.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        with h5py.File(path, "w") as f:
            f["logits"] = logits.detach().float().numpy()
            for k, v in net.state_dict().items():
                f[k] = v.float().numpy() if v.is_floating_point() else v.numpy()
        print(f"{which} ({dtype}): {sum(p.numel() for p in net.parameters())} parameters, loss {loss.item():.6f}")


def _finetune(spec, classes, checkpoint, inputs, out, frozen, steps, kind):
    import h5py
    with h5py.File(inputs, "r") as f:
        x = torch.from_numpy(f["x"][()]).double()
        labels = torch.from_numpy(f["labels"][()]).long()
        lr = float(f.attrs["learning_rate"])
    with h5py.File(checkpoint, "r") as f:
        state = {k: torch.as_tensor(f[k][()]) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    with open(spec) as f:
        net = build(json.load(f), x.shape[1:], classes)
    net.load_state_dict(state, strict=True)
    net.double().train()
    prefixes = tuple(p + "." for p in frozen.split(","))
    for name, p in net.named_parameters():
        p.requires_grad_(not name.startswith(prefixes))
    for m in net.modules():
        params = list(m.parameters(recurse=False))
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            m.eval()
    trained = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=lr) if kind == "adam" else torch.optim.SGD(trained, lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), labels).backward()
        optimizer.step()
    with h5py.File(out, "w") as f:
        for k, v in net.state_dict().items():
            f[k] = v.float().numpy() if v.is_floating_point() else v.numpy()
    print(f"finetune: {sum(p.numel() for p in net.parameters() if p.requires_grad)} trainable parameters, {steps} {kind} steps")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "step":
        _step(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
    elif len(sys.argv) == 10 and sys.argv[1] == "finetune":
        _finetune(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], int(sys.argv[8]), sys.argv[9])
    else:
        sys.exit(__doc__)
