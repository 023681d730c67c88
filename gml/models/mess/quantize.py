"""The per-layer quantizer of MESS: min/max affine, b-bit codes.

For a tensor x with minimum ``lo`` and maximum ``hi``::

    scale = (hi - lo) / (2^b - 1)
    code  = clamp(round((x - lo) / scale), 0, 2^b - 1)
    x_hat = lo + code * scale

The zero point is kept as a real offset (``lo``, float32) rather than an
integer, so both ends of the range are codes and nothing in ``[lo, hi]`` is
clipped: ``|x - x_hat| <= scale / 2`` on either side of zero. (ILKP's
quantizer used ``scale = (hi - lo) / (2^b - 1)`` with symmetric integer
codes and no zero point, which clips the larger side whenever ``|lo| !=
|hi|``.) A constant tensor gets ``scale = 0`` and codes 0. The file stores
the codes and the float32 ``scale`` and ``offset``; :meth:`Quantized.values`
is the one function that turns them back into numbers, for the projection
and the loader alike.
"""
from dataclasses import dataclass
from typing import Tuple

import torch


@dataclass
class Quantized:
    """``codes`` (uint8, flat), ``scale`` and ``offset`` (float32 scalars),
    ``bits`` and the ``shape`` of the quantized tensor."""

    codes: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    bits: int
    shape: Tuple[int, ...]

    def values(self) -> torch.Tensor:
        """``offset + code * scale`` (float32, in ``shape``)."""
        out = self.codes.to(torch.float32) * self.scale
        return (out + self.offset).reshape(self.shape)


def quantize(x: torch.Tensor, bits: int) -> Quantized:
    """Quantize ``x`` to ``bits`` (1 to 8) with one scale and offset."""
    flat = x.detach().reshape(-1).to(torch.float32)
    levels = (1 << bits) - 1
    if flat.numel() == 0:
        lo = hi = torch.zeros((), dtype=torch.float32)
    else:
        lo, hi = flat.min(), flat.max()
    scale = ((hi - lo) / levels).to(torch.float32)
    if scale > 0:
        codes = torch.round((flat - lo) / scale).clamp_(0, levels)
    else:
        codes = torch.zeros_like(flat)
    return Quantized(codes.to(torch.uint8), scale.reshape(()),
                     lo.to(torch.float32).reshape(()), bits, tuple(x.shape))


def fake_quantize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``quantize(x, bits).values()``, in ``x``'s shape."""
    return quantize(x, bits).values()
