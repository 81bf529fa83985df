#!/usr/bin/env python3
"""Turns a PyTorch state_dict into this project's checkpoint, so `teacher-export` runs a teacher
trained elsewhere.

    /usr/bin/python3 scripts/import_torch_teacher.py resnet18_food11.pt --model-dir experiments/food11_teacher

The run directory must already hold the params.json the teacher will be exported with: its
`model_version` names the architecture (a torchvision ResNet is `torchvision_resnet18`, `_34`,
`_50`), its dataset settings the images, and `normalization_mean` / `normalization_std` the
normalisation the teacher was trained with. The state_dict is loaded strictly into that
architecture built in PyTorch (torchvision's own model for `torchvision_*`, scripts/models.py's
mirror of the Swift registry otherwise), so a missing, unexpected or misshapen tensor is an error
before anything is written. The result is `<model-dir>/best.h5`, written atomically; an existing
one is kept unless --force.

Accepted files: a state_dict saved with `torch.save(model.state_dict(), path)`, a dict holding one
under "state_dict" or "model", or a whole pickled module; a DataParallel "module." prefix is
stripped. Needs Debian's python3-torch, python3-torchvision and python3-h5py (`make deps-python`).
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile

FORMAT_VERSION = 2  # Checkpoint.formatVersion in Sources/Shared/Pipeline/IO/Checkpoint.swift


def state_dict_sha256(arrays):
    """The checkpoint's state_dict_sha256 (Sources/Shared/Pipeline/IO/StateDictDigest.swift): for each
    tensor in the byte order of its UTF-8 name, the name, a NUL byte, then its values as stored
    (float32, or int64 counters), little-endian."""
    h = hashlib.sha256()
    for name in sorted(arrays, key=lambda k: k.encode()):
        h.update(name.encode() + b"\0")
        h.update(arrays[name].astype(arrays[name].dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def fail(path, message):
    print(f"import_torch_teacher: {path}: {message}", file=sys.stderr)
    sys.exit(1)


def load_state_dict(path, torch):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the file's fault
        fail(path, f"not a file torch.load can read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        fail(path, "holds no state_dict (expected a dict of tensors, or one under 'state_dict' or 'model')")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def build(name, state, path, size):
    """The registered architecture `name` in PyTorch for images of `size`, with the class and
    channel counts the state_dict itself has."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models  # noqa: E402 - this project's PyTorch mirror of the Swift registry

    if name not in models.NAMES:
        fail(path, f"model '{name}' is not registered (known: {', '.join(models.NAMES)})")
    classifier = [k for k in ("fc.weight", "linear.weight", "classifier.weight", "fc3.weight") if k in state]
    first = next((v for k, v in state.items() if k.endswith("weight") and v.dim() == 4), None)
    if not classifier or first is None:
        fail(path, f"does not look like a {name} state_dict (no classifier or first convolution weight)")
    num_classes, in_channels = state[classifier[0]].shape[0], first.shape[1]
    return models.build(name, in_channels=in_channels, size=size, num_classes=num_classes), num_classes, in_channels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("state_dict", help="file written by torch.save")
    parser.add_argument("--model-dir", required=True, help="run directory holding the teacher's params.json")
    parser.add_argument("--force", action="store_true", help="replace an existing best.h5")
    args = parser.parse_args()

    params_path = os.path.join(args.model_dir, "params.json")
    try:
        with open(params_path) as f:
            params = json.load(f)
    except FileNotFoundError:
        fail(params_path, "file not found: write the teacher's params.json first (model_version, dataset, normalization)")
    except json.JSONDecodeError as e:
        fail(params_path, f"not valid JSON ({e})")
    name = params.get("model_version", "cnn5")
    out = os.path.join(args.model_dir, "best.h5")
    if os.path.exists(out) and not args.force:
        fail(out, "exists; pass --force to replace it")

    import h5py
    import torch

    state = load_state_dict(args.state_dict, torch)
    # The image side matters only to architectures whose classifier size depends on it (cnn5).
    size = params.get("image_size", 28 if params.get("dataset", "fashion-mnist") in ("fashion-mnist", "mnist") else 32)
    model, num_classes, in_channels = build(name, state, args.state_dict, size)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of the wrong shape
        details = [line.strip() for line in str(e).splitlines() if "size mismatch" in line]
        fail(args.state_dict, f"does not fit {name}: " + ("; ".join(details[:3]) or str(e).splitlines()[0]))
    problems = [f"missing {k}" for k in result.missing_keys] + [f"unexpected {k}" for k in result.unexpected_keys]
    if problems:
        fail(args.state_dict, f"does not fit {name}: " + ", ".join(problems[:6]) + (f" and {len(problems) - 6} more" if len(problems) > 6 else ""))

    with open(args.state_dict, "rb") as f:
        source_sha = hashlib.sha256(f.read()).hexdigest()
    fd, tmp = tempfile.mkstemp(prefix=".best.h5.", suffix=".tmp", dir=args.model_dir)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            arrays = {key: value.detach().cpu().numpy().astype("int64" if key.endswith("num_batches_tracked") else "float32")
                      for key, value in model.state_dict().items()}
            for key, array in arrays.items():
                f.create_dataset(key, data=array)
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["state_dict_sha256"] = state_dict_sha256(arrays)
            f.attrs["model_version"] = name
            f.attrs["num_classes"] = num_classes
            f.attrs["input_shape"] = f"{in_channels}x?x?"
            f.attrs["dataset_fingerprint"] = "imported"
            f.attrs["imported_from"] = os.path.abspath(args.state_dict)
            f.attrs["imported_sha256"] = source_sha
            training = f.create_group("training")
            training.attrs["epoch"] = 0
            training.attrs["best_accuracy"] = float("nan")
            training.attrs["best_epoch"] = 0
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"imported {args.state_dict} ({len(state)} tensors, {num_classes} classes, {in_channels} input channels) as {name} -> {out}")


if __name__ == "__main__":
    main()
