"""A 2-D convolution that runs on leading slices of its largest weights."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from ...registry import MODELS
from ...utils.checks import check_int
from .utils import (active_width, center_crop_kernel, fill_static,
                    input_width, pair, square_size)


@MODELS.register_module()
class Conv2dSlice(nn.Conv2d):
    """Weight-sharing ``Conv2d``: the largest kernel, run at a sub-config.

    The op holds the ``out_channels x in_channels x K x K`` weights and
    computes with ``W[:c_out, :c_in]``, where ``c_in`` is the channel count of
    the incoming tensor and ``c_out`` the active width. A depthwise conv
    (``groups == in_channels``; it needs ``out_channels == in_channels``)
    runs with ``W[:c, :1]`` and ``groups = c``, ``c`` the input's channels.
    An active kernel size ``k < K`` uses the centred ``k x k`` crop of the
    kernel. Padding is always "same": ``(k - 1) // 2 * dilation``.

    Args (config keys):
        in_channels: the largest input width.
        out_channels: the largest output width.
        kernel_size: the largest kernel size ``K`` (square).
        stride: the stride.
        groups: 1 or ``in_channels`` (depthwise).
        bias: whether the conv has a bias.
        dilation: the dilation.

    ``set_active(out_channels=None, kernel_size=None)`` chooses the active
    config (None = the largest); ``to_static()`` returns a plain
    ``nn.Conv2d`` with copies of the active weights.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, groups: int = 1, bias: bool = False,
                 dilation: int = 1):
        name = type(self).__name__
        in_channels = check_int(in_channels, f'{name}.in_channels', 1)
        out_channels = check_int(out_channels, f'{name}.out_channels', 1)
        kernel = square_size(kernel_size, f'{name}.kernel_size')
        stride = square_size(stride, f'{name}.stride')
        dilation = square_size(dilation, f'{name}.dilation')
        groups = check_int(groups, f'{name}.groups', 1)
        if groups not in (1, in_channels):
            raise ConfigError(
                f'{name}.groups: expected 1 or in_channels ({in_channels}, '
                f'depthwise), found {groups}; other group counts have no '
                'unique slicing')
        if groups == in_channels and in_channels > 1 and \
                out_channels != in_channels:
            raise ConfigError(
                f'{name}.out_channels: a depthwise conv needs out_channels '
                f'== in_channels ({in_channels}), found {out_channels}')
        super().__init__(in_channels, out_channels, kernel, stride=stride,
                         padding=(kernel - 1) // 2 * dilation,
                         dilation=dilation, groups=groups, bias=bool(bias))
        self.max_kernel_size = kernel
        self.depthwise = groups == in_channels and in_channels > 1
        self._active_out: Optional[int] = None
        self._active_kernel: Optional[int] = None
        # The channel count of the last input (an int, never a tensor): the
        # default input width of to_static().
        self.last_in_channels: Optional[int] = None

    # -- the active configuration -------------------------------------------
    def set_active(self, out_channels: Optional[int] = None,
                   kernel_size: Optional[int] = None) -> None:
        """Choose the active output width and kernel size (None = largest).

        Both are set at once: an argument left out returns to the largest.
        For a depthwise conv ``out_channels`` must match the input's
        channels when it runs.
        """
        where = f'{type(self).__name__}.set_active'
        out = active_width(out_channels, self.out_channels,
                           f'{where}: out_channels')
        kernel = None
        if kernel_size is not None:
            kernel = square_size(kernel_size, f'{where}: kernel_size')
            size = self.max_kernel_size
            if kernel > size:
                raise ConfigError(f'{where}: kernel_size {kernel} > the '
                                  f'{size}x{size} weights it holds')
            if (size - kernel) % 2:
                raise ConfigError(f'{where}: kernel_size {kernel} is no '
                                  f'centred crop of the {size}x{size} '
                                  'weights it holds')
        self._active_out = out
        self._active_kernel = kernel

    @property
    def active_out_channels(self) -> int:
        return self.out_channels if self._active_out is None \
            else self._active_out

    @property
    def active_kernel_size(self) -> int:
        return self.max_kernel_size if self._active_kernel is None \
            else self._active_kernel

    def active_config(self) -> dict:
        """The active ``out_channels`` and ``kernel_size`` (resolved ints)."""
        return dict(out_channels=self.active_out_channels,
                    kernel_size=self.active_kernel_size)

    # -- computation --------------------------------------------------------
    def _resolve(self, in_channels: int) -> Tuple[torch.Tensor,
                                                  Optional[torch.Tensor],
                                                  int, int]:
        """Weight, bias, groups and padding for an input of this width."""
        if self.depthwise:
            if self._active_out is not None and \
                    self._active_out != in_channels:
                raise ValueError(
                    f'{type(self).__name__}: depthwise conv set to '
                    f'{self._active_out} channels got an input with '
                    f'{in_channels}')
            out, groups = in_channels, in_channels
            weight = self.weight[:out] if out < self.out_channels \
                else self.weight
        else:
            out, groups = self.active_out_channels, self.groups
            if out < self.out_channels or in_channels < self.in_channels:
                weight = self.weight[:out, :in_channels]
            else:
                weight = self.weight
        kernel = self.active_kernel_size
        weight = center_crop_kernel(weight, kernel)
        bias = self.bias
        if bias is not None and out < self.out_channels:
            bias = bias[:out]
        padding = (kernel - 1) // 2 * self.dilation[0]
        return weight, bias, groups, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise ValueError(f'{type(self).__name__}: expected a 3-D or 4-D '
                             f'input, found shape {tuple(x.shape)}')
        c_in = input_width(x, -3, self.in_channels, type(self).__name__,
                           'channels')
        self.last_in_channels = c_in
        weight, bias, groups, padding = self._resolve(c_in)
        return F.conv2d(x, weight, bias, self.stride, pair(padding),
                        self.dilation, groups)

    # -- export -------------------------------------------------------------
    def to_static(self, in_channels: Optional[int] = None) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` holding copies of the active weights.

        ``in_channels`` defaults to the width of the last input seen (for a
        depthwise conv: the active ``out_channels`` if set), else the
        largest. Its output equals this op's output exactly.
        """
        where = f'{type(self).__name__}.to_static'
        if in_channels is None:
            if self.depthwise and self._active_out is not None:
                in_channels = self._active_out
            elif self.last_in_channels is not None:
                in_channels = self.last_in_channels
            else:
                in_channels = self.in_channels
        in_channels = active_width(in_channels, self.in_channels,
                                   f'{where}: in_channels')
        weight, bias, groups, padding = self._resolve(in_channels)
        static = nn.Conv2d(in_channels, weight.shape[0], weight.shape[-1],
                           stride=self.stride, padding=padding,
                           dilation=self.dilation, groups=groups,
                           bias=bias is not None)
        return fill_static(static, self, weight, bias)

    def extra_repr(self) -> str:
        return (super().extra_repr()
                + f', active_out_channels={self.active_out_channels}'
                + f', active_kernel_size={self.active_kernel_size}')
