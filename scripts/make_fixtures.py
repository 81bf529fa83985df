#!/usr/bin/env python3
"""Writes the small reference files under Tests/Fixtures/ that pin external semantics.

Run with Debian's python3 (python3-h5py, python3-torch): `make fixtures`. The outputs are
committed, so tests never need Python packages. Each fixture is deterministic.
"""
import os
import sys

import json

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")


def h5py_interop():
    """A file written by h5py with every element type and attribute kind the Swift wrapper reads."""
    path = os.path.join(OUT, "h5py_interop.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("float32", data=np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.5)
        f.create_dataset("float64", data=np.array([1e-300, -2.5, np.pi], dtype=np.float64))
        f.create_dataset("int32", data=np.array([[-7, 0], [2**31 - 1, -2**31]], dtype=np.int32))
        f.create_dataset("int64", data=np.array([2**40, -3], dtype=np.int64))
        f.create_dataset("uint8", data=np.array([0, 128, 255], dtype=np.uint8))
        f.create_dataset("group/chunked", data=np.arange(1000, dtype=np.float32).reshape(100, 10),
                         chunks=(16, 10), compression="gzip", compression_opts=4, shuffle=True)
        f.attrs["vlen_string"] = "Ankle boot ✓"          # h5py stores str as variable-length UTF-8
        f.attrs["fixed_string"] = np.bytes_(b"fixed")    # fixed-length ASCII
        f.attrs["int"] = np.int64(-42)
        f.attrs["double"] = 0.125
        f["float32"].attrs["unit"] = "logit"
    print("wrote", path)


def model_shapes():
    """Parameter counts and state_dict names/shapes of every model, for 1x28x28 and 3x32x32
    (torchvision's ResNets for 3x32x32 only)."""
    out = {}
    for name in models.NAMES:
        out[name] = {}
        # torchvision's ImageNet ResNets only for 3 channels: their 21-23M weights take most of
        # the test's time in a debug build, and the 1-channel stem differs in conv1.weight alone.
        for c, size in [(3, 32)] if name.startswith("torchvision_") else [(1, 28), (3, 32)]:
            m = models.build(name, in_channels=c, size=size)
            out[name][f"{c}x{size}x{size}"] = {
                "parameters": sum(p.numel() for p in m.parameters()),
                "state_dict": {k: list(v.shape) for k, v in m.state_dict().items()},
            }
    path = os.path.join(OUT, "models.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print("wrote", path)


def _save(group, **arrays):
    for k, v in arrays.items():
        group.create_dataset(k, data=v.detach().numpy() if torch.is_tensor(v) else v)


def layers():
    """Single layers: input, parameters, output gradient -> output, input and parameter gradients."""
    torch.manual_seed(0)
    path = os.path.join(OUT, "layers.h5")
    cases = {
        "conv3x3_pad1": lambda: nn.Conv2d(8, 16, 3, padding=1),
        "conv3x3_stride2_nobias": lambda: nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
        "conv_first_layer": lambda: nn.Conv2d(1, 16, 3, padding=1, bias=False),
        "conv1x1_stride2": lambda: nn.Conv2d(16, 32, 1, stride=2, bias=False),
        "conv_depthwise": lambda: nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
        "batchnorm2d": lambda: nn.BatchNorm2d(16),
        "batchnorm1d": lambda: nn.BatchNorm1d(24),
        "linear": lambda: nn.Linear(40, 10),
        "maxpool2": lambda: nn.MaxPool2d(2),
        "maxpool2_odd": lambda: nn.MaxPool2d(2),
        "avgpool2": lambda: nn.AvgPool2d(2),
    }
    shapes = {"conv3x3_pad1": [4, 8, 9, 9], "conv3x3_stride2_nobias": [4, 16, 8, 8], "conv_first_layer": [4, 1, 12, 12],
              "conv1x1_stride2": [4, 16, 8, 8], "conv_depthwise": [2, 16, 7, 7], "batchnorm2d": [6, 16, 5, 5],
              "batchnorm1d": [12, 24], "linear": [5, 40], "maxpool2": [3, 16, 8, 8], "maxpool2_odd": [3, 8, 7, 7],
              "avgpool2": [3, 16, 6, 6]}
    with h5py.File(path, "w") as f:
        for name, make in cases.items():
            layer = make()
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                with torch.no_grad():
                    layer.weight.uniform_(0.5, 1.5)
                    layer.bias.uniform_(-0.5, 0.5)
            layer.train()
            x = (torch.randn(*shapes[name]) * 2 + 0.5).requires_grad_(True)
            y = layer(x)
            dy = torch.randn_like(y)
            y.backward(dy)
            g = f.create_group(name)
            _save(g, x=x, y=y, dy=dy, dx=x.grad)
            for pname, p in layer.named_parameters():
                _save(g, **{pname: p, pname + "_grad": p.grad})
            for bname, b in layer.named_buffers():
                _save(g, **{bname: b})
    print("wrote", path)


def losses():
    """Cross-entropy and KD losses with their gradients, ordinary and extreme logits."""
    torch.manual_seed(1)
    path = os.path.join(OUT, "losses.h5")
    n, k = 8, 10
    labels = torch.randint(0, k, (n,))
    logit_sets = {
        "ordinary": (torch.randn(n, k) * 3, torch.randn(n, k) * 3),
        "extreme": (torch.randn(n, k) * 1e4, torch.randn(n, k) * 1e4),
    }
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=labels.numpy().astype(np.int32))
        for set_name, (s0, t) in logit_sets.items():
            g = f.create_group(set_name)
            _save(g, student=s0, teacher=t)
            s = s0.clone().requires_grad_(True)
            ce = F.cross_entropy(s, labels)
            ce.backward()
            _save(g, ce=ce.detach().numpy().astype(np.float64), ce_grad=s.grad)
            for alpha in [0.0, 0.5, 0.9, 1.0]:
                for temperature in [0.5, 1.0, 4.0, 20.0, 100.0]:
                    for reduction in ["batchmean", "mean"]:
                        s = s0.clone().requires_grad_(True)
                        kl = nn.KLDivLoss(reduction=reduction)(F.log_softmax(s / temperature, dim=1),
                                                                F.softmax(t / temperature, dim=1))
                        loss = kl * (alpha * temperature * temperature) + F.cross_entropy(s, labels) * (1.0 - alpha)
                        loss.backward()
                        c = g.create_group(f"kd_a{alpha}_T{temperature}_{reduction}")
                        c.attrs["alpha"] = alpha
                        c.attrs["temperature"] = temperature
                        c.attrs["reduction"] = reduction
                        _save(c, loss=np.float64(loss.item()), grad=s.grad)
    print("wrote", path)


def _standardize(z):
    """Logit standardisation (Sun et al., CVPR 2024): per-row z-score, unbiased std + 1e-7."""
    return (z - z.mean(dim=-1, keepdim=True)) / (1e-7 + z.std(dim=-1, keepdim=True))


def _dkd(s, t, y, a, b, temperature):
    """DKD's a * TCKD + b * NCKD times T^2 / batch, as mdistiller's dkd_loss computes it."""
    gt = torch.zeros_like(s).scatter_(1, y.unsqueeze(1), 1).bool()
    other = ~gt

    def binary(p):
        return torch.cat([(p * gt).sum(1, keepdim=True), (p * other).sum(1, keepdim=True)], dim=1)

    ps, pt = binary(F.softmax(s / temperature, dim=1)), binary(F.softmax(t / temperature, dim=1))
    tckd = F.kl_div(torch.log(ps), pt, reduction="sum") * temperature ** 2 / y.shape[0]
    log_qs = F.log_softmax(s / temperature - 1000.0 * gt, dim=1)
    qt = F.softmax(t / temperature - 1000.0 * gt, dim=1)
    nckd = F.kl_div(log_qs, qt, reduction="sum") * temperature ** 2 / y.shape[0]
    return a * tckd + b * nckd


def logit_losses():
    """KD and DKD, each with and without logit standardisation, in float64 from float32 logits:
    (1 - alpha) * CE + alpha * scale * soft term, and the gradient for the student's logits."""
    torch.manual_seed(5)
    path = os.path.join(OUT, "logit_losses.h5")
    n, k = 8, 10
    labels = torch.randint(0, k, (n,))
    student = (torch.randn(n, k) * 3).double()
    teacher = (torch.randn(n, k) * 6 + 2).double()
    cases = []
    for standardize in [False, True]:
        for temperature in [1.0, 2.0, 4.0]:
            cases.append(dict(method="kd", standardize=standardize, temperature=temperature, alpha=0.9, scale=1.0, a=0.0, b=0.0))
            for a, b in [(1.0, 8.0), (0.5, 2.0)]:
                for alpha, scale in [(0.5, 1.0), (1.0, 0.25)]:
                    cases.append(dict(method="dkd", standardize=standardize, temperature=temperature, alpha=alpha,
                                      scale=scale, a=a, b=b))
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=labels.numpy().astype(np.int32))
        f.create_dataset("student", data=student.float().numpy())
        f.create_dataset("teacher", data=teacher.float().numpy())
        for i, c in enumerate(cases):
            s = student.float().double().clone().requires_grad_(True)
            t = teacher.float().double()
            zs, zt = (_standardize(s), _standardize(t)) if c["standardize"] else (s, t)
            T = c["temperature"]
            if c["method"] == "kd":
                soft = F.kl_div(F.log_softmax(zs / T, dim=1), F.softmax(zt / T, dim=1), reduction="none").sum(1).mean() * T * T
            else:
                soft = _dkd(zs, zt, labels, c["a"], c["b"], T)
            loss = (1 - c["alpha"]) * F.cross_entropy(s, labels) + c["alpha"] * c["scale"] * soft
            loss.backward()
            g = f.create_group(f"case{i:02d}")
            for key, value in c.items():
                g.attrs[key] = int(value) if isinstance(value, bool) else value
            g.create_dataset("loss", data=np.float64(loss.item()))
            g.create_dataset("grad", data=s.grad.numpy())
    print("wrote", path, len(cases), "cases")


def attention_transfer():
    """Attention transfer as RepDistiller's AT.py (p = 2) on one pair of stages, in float64:
    the loss and its gradient for the student's stage output. The teacher side is its exported
    map mean_c(f_t^2); where the teacher's map is larger it is average-pooled (the export keeps
    no features to pool first), elsewhere RepDistiller's own formula."""
    torch.manual_seed(7)
    path = os.path.join(OUT, "attention.h5")

    def at(f):
        return F.normalize(f.pow(2).mean(1).view(f.size(0), -1))

    with h5py.File(path, "w") as f:
        for name, (s_hw, t_hw) in {"same": (6, 6), "student_larger": (8, 4), "teacher_larger": (3, 7)}.items():
            fs = torch.randn(3, 4, s_hw, s_hw, dtype=torch.float32).double().requires_grad_(True)
            ft = torch.randn(3, 5, t_hw, t_hw, dtype=torch.float32).double()
            tmap = ft.pow(2).mean(1)
            if s_hw > t_hw:
                loss = (at(F.adaptive_avg_pool2d(fs, (t_hw, t_hw))) - at(ft)).pow(2).mean()
            elif s_hw < t_hw:
                pooled = F.adaptive_avg_pool2d(tmap.unsqueeze(1), (s_hw, s_hw)).view(3, -1)
                loss = (at(fs) - F.normalize(pooled)).pow(2).mean()
            else:
                loss = (at(fs) - at(ft)).pow(2).mean()
            loss.backward()
            g = f.create_group(name)
            g.create_dataset("student", data=fs.detach().float().numpy())
            g.create_dataset("teacher_map", data=tmap.reshape(3, -1).float().numpy())
            g.attrs["teacher_height"] = t_hw
            g.create_dataset("loss", data=np.float64(loss.item()))
            g.create_dataset("grad", data=fs.grad.numpy())
    print("wrote", path)


def relational_kd():
    """RKD as RepDistiller's RKD.py (distance weight 25, angle weight 50) in float64, on a batch
    of student embeddings (size 6) against teacher embeddings of another size (9): the loss,
    each term, and the gradient for the student."""
    torch.manual_seed(8)
    path = os.path.join(OUT, "rkd.h5")

    def pdist(e, eps=1e-12):
        e_square = e.pow(2).sum(dim=1)
        res = (e_square.unsqueeze(1) + e_square.unsqueeze(0) - 2 * e @ e.t()).clamp(min=eps).sqrt().clone()
        res[range(len(e)), range(len(e))] = 0
        return res

    def angles(x):
        d = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), p=2, dim=2)
        return torch.bmm(d, d.transpose(1, 2)).view(-1)

    n = 7
    student = torch.randn(n, 6, dtype=torch.float32).double().requires_grad_(True)
    teacher = (torch.randn(n, 9, dtype=torch.float32) * 2).double()
    t_d = pdist(teacher)
    t_d = t_d / t_d[t_d > 0].mean()
    d = pdist(student)
    d = d / d[d > 0].mean()
    loss_d = F.smooth_l1_loss(d, t_d)
    loss_a = F.smooth_l1_loss(angles(student), angles(teacher))
    loss = 25 * loss_d + 50 * loss_a
    loss.backward()
    with h5py.File(path, "w") as f:
        f.create_dataset("student", data=student.detach().float().numpy())
        f.create_dataset("teacher", data=teacher.float().numpy())
        f.create_dataset("distance", data=np.float64(loss_d.item()))
        f.create_dataset("angle", data=np.float64(loss_a.item()))
        f.create_dataset("loss", data=np.float64(loss.item()))
        f.create_dataset("grad", data=student.grad.numpy())
    print("wrote", path)


def dist():
    """DIST as the authors' dist_kd.py (Huang et al., NeurIPS 2022) in float64 from float32
    logits: cases of batch, classes, temperature and the two weights, ordinary and extreme
    logits, each with its loss and the gradient for the student's logits."""
    torch.manual_seed(9)
    path = os.path.join(OUT, "dist.h5")

    def pearson(a, b, eps=1e-8):
        a, b = a - a.mean(1).unsqueeze(1), b - b.mean(1).unsqueeze(1)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)

    def loss(zs, zt, tau, beta, gamma):
        ys, yt = (zs / tau).softmax(dim=1), (zt / tau).softmax(dim=1)
        inter = 1 - pearson(ys, yt).mean()
        intra = 1 - pearson(ys.transpose(0, 1), yt.transpose(0, 1)).mean()
        return tau ** 2 * (beta * inter + gamma * intra)

    cases = [(8, 10, 4.0, 2.0, 2.0, 3.0), (5, 7, 1.0, 1.0, 1.0, 3.0), (16, 10, 4.0, 2.0, 0.0, 3.0),
             (6, 10, 2.0, 0.0, 3.0, 3.0), (4, 5, 4.0, 1.0, 1.0, 30.0), (1, 10, 4.0, 1.0, 1.0, 3.0)]
    with h5py.File(path, "w") as f:
        for i, (n, k, tau, beta, gamma, scale) in enumerate(cases):
            zs = (torch.randn(n, k, dtype=torch.float32) * scale).double().requires_grad_(True)
            zt = (torch.randn(n, k, dtype=torch.float32) * scale * 1.5).double()
            value = loss(zs, zt, tau, beta, gamma)
            value.backward()
            _save(f.create_group(f"case{i}"), student=zs.detach().float().numpy(), teacher=zt.float().numpy(),
                  loss=np.float64(value.item()), grad=zs.grad.numpy(), temperature=np.float64(tau),
                  beta=np.float64(beta), gamma=np.float64(gamma))
    print("wrote", path)


def trajectories():
    """10 optimizer steps of cnn5 and resnet8 on one batch with the KD loss, SGD and Adam.

    cnn5 runs with dropout 0 here: dropout masks come from different generators in PyTorch
    and Swift, so they cannot be compared step for step.
    """
    path = os.path.join(OUT, "trajectories.h5")
    n, steps, alpha, temperature = 16, 10, 0.7, 4.0
    torch.manual_seed(2)
    x = torch.randn(n, 1, 28, 28)
    labels = torch.randint(0, 10, (n,))
    teacher = torch.randn(n, 10) * 3
    with h5py.File(path, "w") as f:
        _save(f, x=x, labels=labels.numpy().astype(np.int32), teacher=teacher)
        f.attrs["alpha"] = alpha
        f.attrs["temperature"] = temperature
        for name in ["cnn5", "resnet8"]:
            torch.manual_seed(3)
            init = models.build(name, dropout_rate=0.0) if name == "cnn5" else models.build(name)
            state = {k: v.clone() for k, v in init.state_dict().items()}
            g = f.create_group(name)
            sg = g.create_group("initial")
            for k, v in state.items():
                sg.create_dataset(k, data=v.numpy())
            # Evaluation path alone: one training-mode forward (moves the running statistics), then eval.
            with torch.no_grad():
                init.train()
                init(x)
                init.eval()
                g.create_dataset("eval_logits_after_one_forward", data=init(x).numpy())
            for opt_name in ["sgd", "adam"]:
                m = models.build(name, dropout_rate=0.0) if name == "cnn5" else models.build(name)
                m.load_state_dict(state)
                m.train()
                if opt_name == "sgd":
                    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
                else:
                    opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-4)
                losses_seen = []
                for _ in range(steps):
                    opt.zero_grad()
                    s = m(x)
                    kl = nn.KLDivLoss(reduction="batchmean")(F.log_softmax(s / temperature, dim=1),
                                                              F.softmax(teacher / temperature, dim=1))
                    loss = kl * (alpha * temperature ** 2) + F.cross_entropy(s, labels) * (1 - alpha)
                    loss.backward()
                    opt.step()
                    losses_seen.append(loss.item())
                g.create_dataset(f"{opt_name}_losses", data=np.array(losses_seen, dtype=np.float64))
                m.eval()
                with torch.no_grad():
                    g.create_dataset(f"{opt_name}_eval_logits", data=m(x).numpy())
    print("wrote", path)


def optimizers():
    """Parameters after each of 5 steps of every optimizer setting, from fixed gradients;
    and the learning rate of each schedule over 12 epochs."""
    torch.manual_seed(4)
    path = os.path.join(OUT, "optimizers.h5")
    p0 = torch.randn(37)
    grads = torch.randn(5, 37)
    settings = {
        "sgd_plain": lambda p: torch.optim.SGD([p], lr=0.1),
        "sgd_momentum_wd": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-2),
        "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
        "adam": lambda p: torch.optim.Adam([p], lr=1e-2),
        "adam_wd": lambda p: torch.optim.Adam([p], lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
        "adamw": lambda p: torch.optim.AdamW([p], lr=1e-2, weight_decay=0.05),
    }
    with h5py.File(path, "w") as f:
        _save(f, initial=p0, grads=grads)
        for name, make in settings.items():
            p = p0.clone().requires_grad_(True)
            opt = make(p)
            after = []
            for g in grads:
                p.grad = g.clone()
                opt.step()
                after.append(p.detach().clone())
            f.create_dataset(name, data=torch.stack(after).numpy())
        sched = {
            "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
            "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.1),
            "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=1e-3),
            "warmup": lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
        }
        for name, make in sched.items():
            opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
            s = make(opt)
            rates = []
            for _ in range(12):
                rates.append(opt.param_groups[0]["lr"])
                opt.step()
                s.step()
            f.create_dataset("lr_" + name, data=np.array(rates))
    print("wrote", path)


def formula_weight(name, shape, kind):
    """Deterministic weights both sides compute from the tensor's name and shape alone, so the
    fixture need not store resnet18's 11M parameters. Mirrored in PyTorchFixtureTests."""
    n = int(np.prod(shape)) if len(shape) else 1
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    i = np.arange(n, dtype=np.float64)
    wave = np.sin(2.39996 * i + 0.1 * len(name))
    if kind == "running_var":
        values = 1.0 + 0.5 * wave * wave
    elif kind in ("bn_weight",):
        values = 1.0 + 0.1 * wave
    elif kind in ("bias", "bn_bias", "running_mean"):
        values = 0.1 * wave
    else:
        values = wave * (1.0 / np.sqrt(fan_in))
    return values.astype(np.float32).reshape(shape)


def eval_logits():
    """Evaluation-mode logits of the models the trajectories do not cover (vgg8, resnet18,
    mobilenetv2), with formula weights and running statistics, on 8 images of 1x28x28."""
    path = os.path.join(OUT, "eval_logits.h5")
    torch.manual_seed(4)
    x = torch.randn(8, 1, 28, 28)
    with h5py.File(path, "w") as f:
        _save(f, x=x)
        for name in ["vgg8", "resnet18", "mobilenetv2"]:
            m = _formula_model(name)
            with torch.no_grad():
                f.create_dataset(name + "/eval_logits", data=m(x).numpy())
    print("wrote", path)


def _formula_model(name):
    """The registered model with formula weights and running statistics, in eval mode."""
    m = models.build(name)
    state = {}
    for k, v in m.state_dict().items():
        owner, leaf = k.rsplit(".", 1)
        if leaf == "num_batches_tracked":
            state[k] = v
            continue
        kind = leaf if leaf in ("running_var", "running_mean") else (
            ("bn_" + leaf) if owner + ".running_mean" in m.state_dict() else ("bias" if leaf == "bias" else "weight"))
        state[k] = torch.from_numpy(formula_weight(k, tuple(v.shape), kind))
    m.load_state_dict(state)
    return m.eval()


def features():
    """What teacher-export --features writes, for resnet8 and resnet18 with formula weights:
    the input of the final linear layer, and per stage (the outputs of layer1, layer2, ...)
    the attention map mean_c(f^2) flattened to [N, H * W], as RepDistiller's AT computes it
    before its L2 normalisation."""
    path = os.path.join(OUT, "features.h5")
    torch.manual_seed(6)
    x = torch.randn(4, 1, 28, 28)
    with h5py.File(path, "w") as f:
        _save(f, x=x)
        for name, stages, head in [("resnet8", ["layer1", "layer2", "layer3"], "fc"),
                                   ("resnet18", ["layer1", "layer2", "layer3", "layer4"], "linear")]:
            m = _formula_model(name)
            seen = {}
            for stage in stages:
                getattr(m, stage).register_forward_hook(lambda mod, i, o, stage=stage: seen.__setitem__(stage, o))
            getattr(m, head).register_forward_hook(lambda mod, i, o: seen.__setitem__("embedding", i[0]))
            with torch.no_grad():
                m(x)
            f.create_dataset(name + "/embedding", data=seen["embedding"].numpy())
            for i, stage in enumerate(stages):
                a = seen[stage].pow(2).mean(1)
                d = f.create_dataset(f"{name}/attention_stage{i + 1}", data=a.reshape(a.shape[0], -1).numpy())
                d.attrs["channels"] = seen[stage].shape[1]
                d.attrs["height"] = a.shape[1]
                d.attrs["width"] = a.shape[2]
    print("wrote", path)


def images():
    """Image files of every format the folder datasets read, and what Pillow (torchvision's
    loader) makes of them: `decoded/<file>` is `Image.open(f).convert("RGB")`, `resized/<file>/<w>x<h>`
    that resized with `Image.BILINEAR` (torchvision's `Resize` on PIL images), `grey/<file>/<w>x<h>`
    the resized image `convert("L")`. Files and arrays are [height, width, 3] uint8."""
    from PIL import Image
    folder = os.path.join(OUT, "images")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(12)
    y, x = np.mgrid[0:30, 0:40]
    smooth = np.stack([x * 6, y * 8, (x + y) * 3], axis=-1).astype(np.float64)
    rgb = np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)
    alpha = (rng.random((30, 40)) * 255).astype(np.uint8)
    grey = np.clip(x * 5 + rng.normal(0, 10, x.shape), 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(os.path.join(folder, "rgb.jpg"), quality=90)
    Image.fromarray(grey).save(os.path.join(folder, "grey.jpg"), quality=90)
    Image.fromarray(np.dstack([rgb, alpha])).save(os.path.join(folder, "rgba.png"))
    Image.fromarray(rgb).quantize(16).save(os.path.join(folder, "palette.png"))
    Image.fromarray(grey).save(os.path.join(folder, "grey.png"))
    Image.fromarray(rgb).save(os.path.join(folder, "rgb.bmp"))
    Image.fromarray(rgb).save(os.path.join(folder, "rgb.ppm"))
    Image.fromarray(grey).save(os.path.join(folder, "grey.pgm"))
    path = os.path.join(OUT, "images.h5")
    with h5py.File(path, "w") as f:
        for name in sorted(os.listdir(folder)):
            im = Image.open(os.path.join(folder, name)).convert("RGB")
            f.create_dataset(f"decoded/{name}", data=np.asarray(im))
            for w, h in [(16, 16), (57, 45), (24, 50), (40, 7)]:
                r = im.resize((w, h), Image.BILINEAR)
                f.create_dataset(f"resized/{name}/{w}x{h}", data=np.asarray(r))
                f.create_dataset(f"grey/{name}/{w}x{h}", data=np.asarray(r.convert("L")))
    print("wrote", path)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    what = sys.argv[1:] or ["h5py_interop", "model_shapes", "layers", "losses", "logit_losses", "attention_transfer", "relational_kd", "dist", "trajectories", "optimizers", "eval_logits", "features", "images"]
    for name in what:
        globals()[name]()
