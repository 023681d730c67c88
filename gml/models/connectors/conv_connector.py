"""1x1-conv and identity connectors."""
from typing import Optional

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from ...utils.checks import check_bool
from ..losses._args import positive_int


@MODELS.register_module()
class ConvConnector(nn.Module):
    """``x -> [ReLU](BN(conv1x1(x)))``: maps ``in_channels`` to
    ``out_channels`` at the same spatial size.

    Always a convolution, also when the widths match (use
    :class:`IdentityConnector` for none). The conv has a bias only without
    BN. AB distillation uses the default: conv + BN, no activation, so the
    output stays pre-ReLU.

    Args:
        in_channels: student channels.
        out_channels: channels to produce.
        norm: add BatchNorm2d after the conv.
        act: add ReLU at the end.
    """

    needs_pretrain = False

    def __init__(self, in_channels: int, out_channels: int,
                 norm: bool = True, act: bool = False):
        super().__init__()
        in_channels = positive_int(in_channels, 'in_channels',
                                   'ConvConnector')
        out_channels = positive_int(out_channels, 'out_channels',
                                    'ConvConnector')
        check_bool(norm, 'ConvConnector.norm')
        check_bool(act, 'ConvConnector.act')
        layers = [nn.Conv2d(in_channels, out_channels, 1, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if act:
            layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@MODELS.register_module()
class IdentityConnector(nn.Module):
    """Returns its input unchanged.

    ``in_channels`` / ``out_channels`` are optional; when both are given they
    must be equal, so a config can swap it for :class:`ConvConnector`.
    """

    needs_pretrain = False

    def __init__(self, in_channels: Optional[int] = None,
                 out_channels: Optional[int] = None):
        super().__init__()
        if in_channels is not None:
            positive_int(in_channels, 'in_channels', 'IdentityConnector')
        if out_channels is not None:
            positive_int(out_channels, 'out_channels', 'IdentityConnector')
        if None not in (in_channels, out_channels) \
                and in_channels != out_channels:
            raise ConfigError(f'IdentityConnector.out_channels: must equal '
                              f'in_channels ({in_channels}), found '
                              f'{out_channels}; use ConvConnector to change '
                              'the width')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
