"""PyTorch definitions of the registered models, for fixtures and the benchmark.

They follow the reference definitions whose names, shapes and parameter counts the Swift
models reproduce: the classic KD repository's model/net.py (cnn5) and model/resnet.py
(resnet18, kuangliu's CIFAR variant), RepDistiller's models/resnet.py and models/vgg.py.
Two deliberate changes, mirrored in Swift: global average pooling instead of a fixed-size
AvgPool (so 28x28 and 32x32 inputs both work), and cnn5's fc1 sized from the input.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CNN5(nn.Module):
    def __init__(self, in_channels=1, size=28, num_classes=10, num_channels=32, dropout_rate=0.5):
        super().__init__()
        c = num_channels
        self.conv1 = nn.Conv2d(in_channels, c, 3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, 2 * c, 3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * c)
        self.conv3 = nn.Conv2d(2 * c, 4 * c, 3, stride=1, padding=1)
        self.bn3 = nn.BatchNorm2d(4 * c)
        self.flat = (size // 8) ** 2 * 4 * c
        self.fc1 = nn.Linear(self.flat, 4 * c)
        self.fcbn1 = nn.BatchNorm1d(4 * c)
        self.fc2 = nn.Linear(4 * c, num_classes)
        self.dropout_rate = dropout_rate

    def forward(self, s):
        s = F.relu(F.max_pool2d(self.bn1(self.conv1(s)), 2))
        s = F.relu(F.max_pool2d(self.bn2(self.conv2(s)), 2))
        s = F.relu(F.max_pool2d(self.bn3(self.conv3(s)), 2))
        s = s.reshape(s.shape[0], -1)
        s = F.dropout(F.relu(self.fcbn1(self.fc1(s))), p=self.dropout_rate, training=self.training)
        return self.fc2(s)


class RDBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + residual)


class CIFARResNet(nn.Module):
    def __init__(self, depth, widths, in_channels=1, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.layer1 = self._make_layer(widths[1], n)
        self.layer2 = self._make_layer(widths[2], n, stride=2)
        self.layer3 = self._make_layer(widths[3], n, stride=2)
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [RDBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [RDBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class KLBasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(64, 1)
        self.layer2 = self._make_layer(128, 2)
        self.layer3 = self._make_layer(256, 2)
        self.layer4 = self._make_layer(512, 2)
        self.linear = nn.Linear(512, num_classes)

    def _make_layer(self, planes, stride):
        layers = []
        for s in [stride, 1]:
            layers.append(KLBasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


VGG_CFG = {
    "vgg8": [[64], [128], [256], [512], [512]],
    "vgg11": [[64], [128], [256, 256], [512, 512], [512, 512]],
    "vgg13": [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    "vgg16": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
}


class VGG(nn.Module):
    def __init__(self, cfg, in_channels=1, num_classes=10):
        super().__init__()
        chans = [in_channels] + [b[-1] for b in cfg[:-1]]
        for i, (block, c) in enumerate(zip(cfg, chans)):
            setattr(self, f"block{i}", self._make_layers(block, c))
        self.classifier = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
                m.bias.data.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                m.bias.data.zero_()

    @staticmethod
    def _make_layers(cfg, in_channels):
        layers = []
        for v in cfg:
            layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            in_channels = v
        return nn.Sequential(*layers[:-1])

    def forward(self, x):
        h = x.shape[2]
        for i in range(5):
            x = F.relu(getattr(self, f"block{i}")(x))
            if i < 3 or (i == 3 and h == 64):
                x = F.max_pool2d(x, 2)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        self.use_res_connect = stride == 1 and inp == oup
        h = inp * expand_ratio
        self.conv = nn.Sequential(
            nn.Conv2d(inp, h, 1, 1, 0, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
            nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
            nn.Conv2d(h, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup),
        )

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """RepDistiller's mobile_half: expansion 6, width 0.5, global average pooling."""

    def __init__(self, in_channels=1, num_classes=10, T=6, width_mult=0.5):
        super().__init__()
        setting = [[1, 16, 1, 1], [T, 24, 2, 1], [T, 32, 3, 2], [T, 64, 4, 2], [T, 96, 3, 1], [T, 160, 3, 2], [T, 320, 1, 1]]
        c = int(32 * width_mult)
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList([])
        for t, ch, n, s in setting:
            out = int(ch * width_mult)
            layers = []
            for stride in [s] + [1] * (n - 1):
                layers.append(InvertedResidual(c, out, stride, t))
                c = out
            self.blocks.append(nn.Sequential(*layers))
        self.conv2 = nn.Sequential(nn.Conv2d(c, 1280, 1, 1, 0, bias=False), nn.BatchNorm2d(1280), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Linear(1280, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                m.bias.data.zero_()

    def forward(self, x):
        out = self.conv1(x)
        for b in self.blocks:
            out = b(out)
        out = self.conv2(out)
        return self.classifier(F.adaptive_avg_pool2d(out, 1).flatten(1))


def build(name, in_channels=1, size=28, num_classes=10, **kw):
    if name.startswith("torchvision_"):
        import torchvision
        m = getattr(torchvision.models, name[len("torchvision_"):])(num_classes=num_classes)
        if in_channels != 3 and hasattr(m, "conv1"):  # the Swift stem takes the dataset's channels
            m.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        elif in_channels != 3:  # mobilenet_v2's stem
            m.features[0][0] = nn.Conv2d(in_channels, 32, kernel_size=3, stride=2, padding=1, bias=False)
        return m
    if name == "cnn5":
        return CNN5(in_channels, size, num_classes, **kw)
    if name == "resnet18":
        return ResNet18(in_channels, num_classes)
    if name == "mobilenetv2":
        return MobileNetV2(in_channels, num_classes)
    if name in VGG_CFG:
        return VGG(VGG_CFG[name], in_channels, num_classes)
    if name.startswith("resnet"):
        wide = name.endswith("x4")
        depth = int(name[6:].replace("x4", ""))
        widths = [32, 64, 128, 256] if wide else [16, 16, 32, 64]
        return CIFARResNet(depth, widths, in_channels, num_classes)
    raise KeyError(name)


NAMES = ["cnn5", "resnet8", "resnet14", "resnet20", "resnet32", "resnet56", "resnet110", "resnet8x4",
         "resnet32x4", "resnet18", "vgg8", "vgg11", "vgg13", "vgg16", "mobilenetv2",
         "torchvision_resnet18", "torchvision_resnet34", "torchvision_resnet50", "torchvision_mobilenet_v2"]
