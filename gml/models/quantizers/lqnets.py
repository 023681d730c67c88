"""LQ-Nets: learned quantization with a learned basis (Zhang et al.,
ECCV 2018)."""
import itertools
import math

import torch

from ...registry import MODELS
from .tensor_quantizer import TensorQuantizer


@MODELS.register_module()
class LQNetsQuantizer(TensorQuantizer):
    """Levels ``codes @ v`` for a learned basis ``v`` of ``bits`` values:
    every binary code in ``{0, 1}^bits`` (activations) or ``{-1, 1}^bits``
    (weights). A value maps to its nearest level (thresholds halfway
    between sorted levels); the gradient is straight-through, zero above the
    top level (activations). In training, every forward refits the basis to
    the tensor by least squares, ``v* = (B^T B)^-1 B^T x`` with ``B`` the
    chosen codes, and moves it as ``v = (1 - momentum) v + momentum v*``.

    The basis starts at ``v_i = 2^i * base`` with ``base = 0.6745 * 2 /
    2^(bits-1)`` (activations) or ``0.6745 * sqrt(2 / fan_in) /
    2^(bits-1)`` (weights; ``fan_in`` from the first tensor seen).

    Args:
        bits: 1..8.
        role: ``'weight'`` or ``'activation'``.
        momentum: of the basis update (0.1).
    """

    def __init__(self, bits: int = 2, role: str = 'activation',
                 momentum: float = 0.1):
        super().__init__(bits, role)
        self.momentum = float(momentum)
        values = (0.0, 1.0) if role == 'activation' else (-1.0, 1.0)
        codes = torch.tensor(list(itertools.product(values,
                                                    repeat=self.bits)))
        self.register_buffer('codes', codes.flip(1))  # column i: bit i
        self.register_buffer('basis', torch.zeros(self.bits))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool))

    def _init_basis(self, x: torch.Tensor) -> None:
        if self.role == 'activation':
            base = 0.6745 * 2 / 2 ** (self.bits - 1)
        else:
            fan_in = x[0].numel() if x.dim() > 1 else x.numel()
            base = 0.6745 * math.sqrt(2 / fan_in) / 2 ** (self.bits - 1)
        self.basis.copy_(base * 2.0 ** torch.arange(self.bits))
        self.initialized.fill_(True)

    def levels_and_codes(self):
        """The sorted levels and the code of each."""
        levels = self.codes @ self.basis
        order = torch.argsort(levels)
        return levels[order], self.codes[order]

    def _nearest(self, x: torch.Tensor):
        levels, codes = self.levels_and_codes()
        thresholds = (levels[1:] + levels[:-1]) / 2
        index = torch.bucketize(x.detach(), thresholds)
        return levels[index].to(x.dtype), codes[index]

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialized):
            with torch.no_grad():
                self._init_basis(x)
        if self.training:
            with torch.no_grad():
                _, chosen = self._nearest(x)
                flat = chosen.reshape(-1, self.bits).double()
                gram = flat.T @ flat + 1e-6 * torch.eye(
                    self.bits, dtype=flat.dtype, device=flat.device)
                fitted = torch.linalg.solve(
                    gram, flat.T @ x.detach().reshape(-1).double())
                self.basis.mul_(1 - self.momentum).add_(
                    self.momentum * fitted.to(self.basis.dtype))
        quantized, _ = self._nearest(x)
        surrogate = x
        if self.role == 'activation':
            top = self.levels_and_codes()[0][-1].to(x.dtype)
            surrogate = torch.where(x > top, x.detach(), x)
        return surrogate + (quantized - surrogate).detach()
