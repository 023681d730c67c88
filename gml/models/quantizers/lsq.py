"""LSQ: learned step size quantization (Esser et al., ICLR 2020)."""
import math

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from .tensor_quantizer import TensorQuantizer, grad_scale, round_ste

GRAD_SCALES = ('lsq', 'none')


@MODELS.register_module()
class LSQQuantizer(TensorQuantizer):
    """``q = round(clamp(x / s, -Qn, Qp)) * s`` with a learned step ``s``.

    Weights are signed (``Qn = 2^(b-1)``, ``Qp = 2^(b-1) - 1``, so
    ``bits >= 2``) with one step per output channel when ``per_channel``;
    activations are unsigned (``Qn = 0``, ``Qp = 2^b - 1``) with one step.
    The step's gradient (``round(x/s) - x/s`` inside the range, ``-Qn`` or
    ``Qp`` outside) is multiplied by ``g = 1 / sqrt(N * Qp)`` (``N``:
    elements per step) with ``grad_scale='lsq'``; ``x`` gets the
    straight-through gradient inside the range. The step starts at
    ``2 mean|x| / sqrt(Qp)`` of the first tensor seen.

    Args:
        bits: 1..8 (2..8 for weights).
        role: ``'weight'`` or ``'activation'``.
        per_channel: one step per output channel (weights only).
        channels: the output channels when ``per_channel``.
        grad_scale: ``'lsq'`` or ``'none'``.
    """

    def __init__(self, bits: int = 4, role: str = 'activation',
                 per_channel: bool = True, channels: int = 1,
                 grad_scale: str = 'lsq'):
        super().__init__(bits, role, low=2 if role == 'weight' else 1)
        if grad_scale not in GRAD_SCALES:
            raise ConfigError(f'LSQQuantizer.grad_scale: expected one of '
                              f'{GRAD_SCALES}, found {grad_scale!r}')
        self.per_channel = bool(per_channel) and role == 'weight'
        self.scale_mode = grad_scale
        size = int(channels) if self.per_channel else 1
        self.step = nn.Parameter(torch.ones(size))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool))

    @property
    def bounds(self):
        """``(Qn, Qp)``."""
        if self.role == 'weight':
            return 2 ** (self.bits - 1), 2 ** (self.bits - 1) - 1
        return 0, 2 ** self.bits - 1

    def _shaped(self, step: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.per_channel:
            return step.view(-1, *([1] * (x.dim() - 1)))
        return step.view(())

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        qn, qp = self.bounds
        if self.per_channel and x.shape[0] != self.step.numel():
            raise ConfigError(f'LSQQuantizer: {self.step.numel()} steps for '
                              f'a tensor of {x.shape[0]} channels')
        if self.training and not bool(self.initialized):
            with torch.no_grad():
                dims = tuple(range(1, x.dim())) if self.per_channel else None
                mean = x.abs().mean(dim=dims) if dims else x.abs().mean()
                self.step.copy_((2 * mean / math.sqrt(qp)).clamp(min=1e-8)
                                .reshape(self.step.shape))
                self.initialized.fill_(True)
        per_step = x.numel() // self.step.numel()
        g = 1.0 / math.sqrt(per_step * qp) if self.scale_mode == 'lsq' \
            else 1.0
        step = self._shaped(grad_scale(self.step, g), x).to(x.dtype)
        return round_ste(torch.clamp(x / step, -qn, qp)) * step

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, per_channel={self.per_channel}, '
                f'grad_scale={self.scale_mode!r}')
