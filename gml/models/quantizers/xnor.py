"""XNOR-Net (Rastegari et al., 2016) and XNOR-Net++ (Bulat and
Tzimiropoulos, 2019) binarization."""
import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from .tensor_quantizer import TensorQuantizer

GRADIENTS = ('ste', 'triangle')


def _sign(x: torch.Tensor) -> torch.Tensor:
    """+1 / -1 (0 maps to +1)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


@MODELS.register_module()
class XNORQuantizer(TensorQuantizer):
    """1-bit values.

    * weights: ``sign(w) * mean|w|`` per output channel (XNOR), or
      ``sign(w) * gamma`` with a learnable per-channel ``gamma`` (XNOR++,
      ``gamma=True``, started at ``mean|w|``); the weights get the
      straight-through gradient scaled as the forward is;
    * activations: ``sign(x)`` with the gradient ``1`` for ``|x| <= 1``
      (``gradient='ste'``) or ``2 - 2|x|`` there (``'triangle'``, Bi-Real),
      0 elsewhere.

    Args:
        role: ``'weight'`` or ``'activation'``.
        gamma: learnable per-channel scale (weights; needs ``channels``).
        channels: output channels (for ``gamma``).
        gradient: ``'ste'`` or ``'triangle'`` (activations).
    """

    def __init__(self, bits: int = 1, role: str = 'weight',
                 gamma: bool = False, channels: int = 1,
                 gradient: str = 'ste'):
        super().__init__(bits, role, low=1)
        if self.bits != 1:
            raise ConfigError(f'XNORQuantizer.bits: XNOR binarizes (1 bit), '
                              f'found {bits!r}')
        if gradient not in GRADIENTS:
            raise ConfigError(f'XNORQuantizer.gradient: expected one of '
                              f'{GRADIENTS}, found {gradient!r}')
        self.gradient = gradient
        self.gamma = nn.Parameter(torch.ones(int(channels))) \
            if gamma and role == 'weight' else None
        self.register_buffer('initialized', torch.zeros((), dtype=torch.bool))

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        if self.role == 'activation':
            if self.gradient == 'ste':
                surrogate = torch.clamp(x, -1, 1)
            else:  # integral of 2 - 2|x| on [-1, 1]
                clipped = torch.clamp(x, -1, 1)
                surrogate = 2 * clipped - clipped * clipped.abs()
            return surrogate + (_sign(x) - surrogate).detach()
        dims = tuple(range(1, x.dim()))
        shape = (-1, ) + (1, ) * (x.dim() - 1)
        if self.gamma is None:
            scale = x.abs().mean(dim=dims).view(shape).detach()
        else:
            if self.training and not bool(self.initialized):
                with torch.no_grad():
                    self.gamma.copy_(x.abs().mean(dim=dims))
                    self.initialized.fill_(True)
            scale = self.gamma.view(shape).to(x.dtype)
        return (_sign(x) - x).detach() * scale + x * scale
