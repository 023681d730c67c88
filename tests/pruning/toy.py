"""A small plain-torch network for the pruning tests."""
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
