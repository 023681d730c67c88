"""A small plain-torch network for the pruning tests."""
import torch
import torch.nn as nn


class ToyNet(nn.Module):
    """conv-bn-relu, a residual block, depthwise conv, global pool, fc."""
    # MACs at 3x8x8: stem 9*3*20*64, block convs 2 * 9*20*20*64,
    # depthwise 9*20*16 (stride 2: 4x4), fc 20*5
    MACS = 9 * 3 * 20 * 64 + 2 * 9 * 20 * 20 * 64 + 9 * 20 * 16 + 20 * 5

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 20, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(20)
        self.conv1 = nn.Conv2d(20, 20, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(20)
        self.conv2 = nn.Conv2d(20, 20, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(20)
        self.dw = nn.Conv2d(20, 20, 3, stride=2, padding=1, groups=20,
                            bias=False)
        self.bn3 = nn.BatchNorm2d(20)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(20, 5)

    def forward(self, x):
        x = self.bn(self.stem(x)).relu()
        y = self.bn1(self.conv1(x)).relu()
        x = (x + self.bn2(self.conv2(y))).relu()
        x = self.bn3(self.dw(x)).relu()
        return self.fc(self.pool(x).flatten(1))


class GroupedNet(nn.Module):
    """A ResNeXt-style block: 1x1, grouped 3x3 (10 groups), 1x1, residual."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.reduce = nn.Conv2d(16, 20, 1)
        self.grouped = nn.Conv2d(20, 10, 3, padding=1, groups=10)
        self.bn = nn.BatchNorm2d(10)
        self.expand = nn.Conv2d(10, 16, 1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.stem(x).relu()
        y = self.bn(self.grouped(self.reduce(x).relu())).relu()
        x = x + self.expand(y)
        return self.fc(x.mean((2, 3)))


class ConcatNet(nn.Module):
    """DenseNet-style: two layers' outputs concatenated, a BN over the
    concatenation, a conv reading it."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 10, 3, padding=1)
        self.b = nn.Conv2d(10, 20, 3, padding=1)
        self.bn = nn.BatchNorm2d(30)
        self.mix = nn.Conv2d(30, 12, 1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        a = self.a(x).relu()
        x = torch.cat([a, self.b(a)], 1)
        x = self.mix(self.bn(x).relu())
        return self.fc(x.mean((2, 3)))


def channel_shuffle(x, groups):
    n, c, h, w = x.size()
    return x.view(n, groups, c // groups, h, w).transpose(1, 2) \
        .contiguous().view(n, c, h, w)


class ShuffleNet(nn.Module):
    """ShuffleNetV2-style units: chunk, a branch, cat, channel shuffle."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 20, 3, padding=1)
        self.units = nn.ModuleList(nn.Sequential(
            nn.Conv2d(10, 10, 1), nn.BatchNorm2d(10), nn.ReLU(),
            nn.Conv2d(10, 10, 3, padding=1, groups=10), nn.BatchNorm2d(10),
            nn.Conv2d(10, 10, 1), nn.ReLU()) for _ in range(2))
        self.fc = nn.Linear(20, 5)

    def forward(self, x):
        x = self.stem(x)
        for unit in self.units:
            left, right = x.chunk(2, dim=1)
            x = channel_shuffle(torch.cat([left, unit(right)], 1), 2)
        return self.fc(x.mean((2, 3)))


class SENet(nn.Module):
    """An inverted residual with squeeze-excite and hard-sigmoid
    (``relu6(x + 3) / 6``), as MobileNetV3 has."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.expand = nn.Conv2d(8, 24, 1)
        self.dw = nn.Conv2d(24, 24, 3, padding=1, groups=24)
        self.squeeze = nn.Conv2d(24, 6, 1)
        self.excite = nn.Conv2d(6, 24, 1)
        self.project = nn.Conv2d(24, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        y = nn.functional.hardswish(self.dw(self.expand(x)))
        gate = self.excite(self.squeeze(y.mean((2, 3), keepdim=True))
                           .relu())
        y = y * (nn.functional.relu6(gate + 3) / 6)
        x = x + self.project(y)
        return self.fc(x.mean((2, 3)))


class LayerNorm2d(nn.LayerNorm):
    """A layer norm over the channels of N x C x H x W (permutes inside)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class NeXtNet(nn.Module):
    """ConvNeXt-style: stem + channel layer norm, a block of depthwise conv,
    channels-last layer norm, two linears, a layer scale and a residual."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 2, stride=2)
        self.stem_norm = LayerNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.norm = nn.LayerNorm(16)
        self.fc1 = nn.Linear(16, 40)
        self.fc2 = nn.Linear(40, 16)
        self.gamma = nn.Parameter(torch.rand(16) + 0.5)
        self.head_norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.stem_norm(self.stem(x))
        y = self.norm(self.dw(x).permute(0, 2, 3, 1))
        y = self.fc2(nn.functional.gelu(self.fc1(y))) * self.gamma
        x = x + y.permute(0, 3, 1, 2)
        return self.fc(self.head_norm(x.mean((2, 3))))
