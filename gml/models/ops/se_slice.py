"""Squeeze-and-excitation whose hidden width follows its input's width."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from ...registry import MODELS
from ...utils.checks import check_int
from .conv2d_slice import Conv2dSlice
from .utils import active_width, input_width, make_divisible

GATES = ('hsigmoid', 'sigmoid')


def _gate(x: torch.Tensor, gate: str) -> torch.Tensor:
    return F.hardsigmoid(x) if gate == 'hsigmoid' else torch.sigmoid(x)


def _check_gate(gate: str, owner: str) -> str:
    if gate not in GATES:
        raise ConfigError(f'{owner}.gate: expected one of {list(GATES)}, '
                          f'found {gate!r}')
    return gate


@MODELS.register_module()
class SqueezeExcite(nn.Module):
    """Plain squeeze-and-excitation (the static export of the slice op).

    ``x * gate(expand(relu(reduce(mean_hw(x)))))`` with 1x1 convs (with
    bias) ``channels -> mid_channels -> channels``.

    Args (config keys):
        channels: the input and output width.
        mid_channels: the hidden width.
        gate: ``'hsigmoid'`` (MobileNetV3) or ``'sigmoid'``.
    """

    def __init__(self, channels: int, mid_channels: int,
                 gate: str = 'hsigmoid'):
        super().__init__()
        name = type(self).__name__
        channels = check_int(channels, f'{name}.channels', 1)
        mid_channels = check_int(mid_channels, f'{name}.mid_channels', 1)
        self.gate = _check_gate(gate, name)
        self.reduce = nn.Conv2d(channels, mid_channels, 1, bias=True)
        self.expand = nn.Conv2d(mid_channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = F.relu(self.reduce(s))
        return x * _gate(self.expand(s), self.gate)


@MODELS.register_module()
class SqueezeExciteSlice(nn.Module):
    """Weight-sharing squeeze-and-excitation.

    For an input with ``c`` channels the hidden width is
    ``make_divisible(c // reduction, divisor)``; the reduce conv runs with
    ``W[:mid, :c]`` and the expand conv with ``W[:c, :mid]`` (biases sliced
    alike). Both are :class:`Conv2dSlice` submodules (``reduce``,
    ``expand``), so a FLOPs counter sees their active widths.

    Args (config keys):
        channels: the largest input width.
        reduction: the width divisor (4 in MobileNetV3/BigNAS).
        divisor: channel counts are multiples of this (see
            :func:`make_divisible`, floor ``divisor``).
        gate: ``'hsigmoid'`` (MobileNetV3) or ``'sigmoid'``.

    ``to_static(channels=None)`` returns a :class:`SqueezeExcite`.
    """

    def __init__(self, channels: int, reduction: int = 4, divisor: int = 8,
                 gate: str = 'hsigmoid'):
        super().__init__()
        name = type(self).__name__
        self.channels = check_int(channels, f'{name}.channels', 1)
        self.reduction = check_int(reduction, f'{name}.reduction', 1)
        self.divisor = check_int(divisor, f'{name}.divisor', 1)
        self.gate = _check_gate(gate, name)
        self.mid_channels = self.mid_channels_for(self.channels)
        self.reduce = Conv2dSlice(self.channels, self.mid_channels, 1,
                                  bias=True)
        self.expand = Conv2dSlice(self.mid_channels, self.channels, 1,
                                  bias=True)
        self.last_channels: Optional[int] = None

    def mid_channels_for(self, channels: int) -> int:
        """The hidden width used for an input with ``channels`` channels."""
        return make_divisible(channels // self.reduction, self.divisor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__}: expected a 4-D input, '
                             f'found shape {tuple(x.shape)}')
        c = input_width(x, 1, self.channels, type(self).__name__,
                        'channels')
        self.last_channels = c
        self.reduce.set_active(out_channels=self.mid_channels_for(c))
        self.expand.set_active(out_channels=c)
        s = x.mean((2, 3), keepdim=True)
        s = F.relu(self.reduce(s))
        return x * _gate(self.expand(s), self.gate)

    def to_static(self, channels: Optional[int] = None) -> SqueezeExcite:
        """A :class:`SqueezeExcite` with copies of the active weights.

        ``channels`` defaults to the width of the last input seen, else the
        largest. Its output equals this op's output exactly.
        """
        if channels is None:
            channels = self.last_channels or self.channels
        c = active_width(channels, self.channels,
                         f'{type(self).__name__}.to_static: channels')
        mid = self.mid_channels_for(c)
        self.reduce.set_active(out_channels=mid)
        self.expand.set_active(out_channels=c)
        static = SqueezeExcite(c, mid, gate=self.gate)
        static.reduce = self.reduce.to_static(c)
        static.expand = self.expand.to_static(mid)
        static.train(self.training)
        return static

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, reduction={self.reduction}, '
                f'divisor={self.divisor}, mid_channels={self.mid_channels}, '
                f'gate={self.gate!r}')
