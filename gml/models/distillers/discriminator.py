"""The logit discriminator of MEAL V2."""
import torch
import torch.nn as nn

from ...registry import MODELS


@MODELS.register_module()
class LogitDiscriminator(nn.Module):
    """Tells teacher logits from student logits.

    1x1 convolutions over the logit vector (``in_channels`` -> ``hidden``...
    -> 2) with ReLU between, as MEAL V2 uses (1000 -> 125 -> 15 -> 2 on
    ImageNet: ``hidden=(125, 15)``). Returns two-class scores.
    """

    def __init__(self, in_channels: int, hidden=(125, 15)):
        super().__init__()
        layers = []
        width = in_channels
        for h in hidden:
            layers += [nn.Conv2d(width, h, 1), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Conv2d(width, 2, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return self.net(logits[:, :, None, None]).flatten(1)
