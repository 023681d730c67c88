"""Small models for the MESS tests."""
import torch
import torch.nn as nn


class ToyResNet(nn.Module):
    """A 3x3 stem (2 -> 3: 6 reference kernels), two more 3x3 convs, a 1x1
    shortcut and a linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(4, 5, 3, padding=1)
        self.short = nn.Conv2d(3, 5, 1, bias=False)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = self.conv2(torch.relu(self.conv1(x))) + self.short(x)
        return self.fc(x.mean((2, 3)))


class ToyMobileNet(nn.Module):
    """A MobileNet-like stack: stem, depthwise 8 (reference), pointwise
    8 -> 16 (pointwise reference), depthwise 16, pointwise 16 -> 16, and
    a pointwise 12 -> 4 whose inputs are no multiple of 8."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.dw1 = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.pw1 = nn.Conv2d(8, 16, 1, bias=False)
        self.dw2 = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.pw2 = nn.Conv2d(16, 12, 1, bias=False)
        self.pw3 = nn.Conv2d(12, 4, 1, bias=False)

    def forward(self, x):
        for layer in (self.stem, self.dw1, self.pw1, self.dw2, self.pw2,
                      self.pw3):
            x = torch.relu(layer(x))
        return x.mean((2, 3))


def seeded(cls, seed=0):
    torch.manual_seed(seed)
    return cls()
