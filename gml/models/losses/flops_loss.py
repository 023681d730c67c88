"""The FLOPs term of DMCP's architecture loss, with a dead band.

Expected and target FLOPs are in the **same unit** (MFLOPs: MACs / 1e6 of
one image). With ``low = (1 - band) * T``:

* ``log_l1`` (DMCP's ``log_l1``)::

      r = 0.1 if |E - T| > window else 1
      L = log(r * |E - T|)    if E < low
      L = 0                   if low <= E < T      (dead band)
      L = log(r * |E - low|)  if E >= T

  It is meant for targets of tens of MFLOPs and more: below
  ``band * T = 1`` the logarithm turns negative and the band is no longer
  the minimum, so such targets are refused;
* ``l1``: ``|E - T| / T`` below the band, ``(E - low) / T`` above it;
* ``l2``: the square of ``l1``'s distance.

The loss is multiplied by ``loss_weight``. Outside the band its gradient
with respect to ``E`` is negative below and positive above: descent moves
``E`` into the band from either side.
"""
import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from ._args import choice, real

KINDS = ('log_l1', 'l1', 'l2')


@MODELS.register_module()
class FlopsLoss(nn.Module):
    """``loss(expected_mflops)`` pulling the expected FLOPs into
    ``[(1 - band) * target, target)``.

    Args:
        target: the target in MFLOPs.
        type: ``'log_l1'``, ``'l1'`` or ``'l2'``.
        loss_weight: multiplies the loss (DMCP: 0.1).
        band: width of the dead band below the target, as a fraction.
        window: ``log_l1``'s distance (MFLOPs) beyond which the error is
            scaled by 0.1.
    """

    def __init__(self, target: float, type: str = 'log_l1',
                 loss_weight: float = 0.1, band: float = 0.05,
                 window: float = 200.0):
        super().__init__()
        owner = 'flops_loss'
        self.target = real(target, 'target', owner, 0, strict=True)
        self.kind = choice(type, 'type', owner, KINDS)
        self.loss_weight = real(loss_weight, 'loss_weight', owner, 0)
        self.band = real(band, 'band', owner, 0)
        if self.band >= 1:
            raise ConfigError(f'{owner}.band: expected a fraction in [0, 1)'
                              f', found {band!r}')
        self.window = real(window, 'window', owner, 0, strict=True)
        if self.kind == 'log_l1' and self.band * self.target < 1:
            raise ConfigError(
                f"{owner}: type='log_l1' needs band * target >= 1 MFLOPs "
                f'(found {self.band:g} * {self.target:g}); below that its '
                "logarithm is negative outside the band; use type='l1'")

    @property
    def low(self) -> float:
        return (1 - self.band) * self.target

    def forward(self, expected: torch.Tensor) -> torch.Tensor:
        target, low = self.target, self.low
        value = float(expected.detach())
        if low <= value < target:
            return expected * 0.0
        below = value < low
        distance = (target - expected) if below else (expected - low)
        if self.kind == 'log_l1':
            scale = 0.1 if abs(value - target) > self.window else 1.0
            loss = torch.log(scale * distance)
        elif self.kind == 'l1':
            loss = distance / target
        else:
            loss = (distance / target) ** 2
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'target={self.target:g}, type={self.kind!r}, band='
                f'{self.band:g}, loss_weight={self.loss_weight:g}')
