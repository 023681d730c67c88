"""What every low-bit quantizer shares: bit checks, the straight-through
rounding and the gradient scale trick."""
import abc

import torch
import torch.nn as nn

from ...errors import ConfigError

ROLES = ('weight', 'activation')


def check_bits(bits, owner: str, low: int = 1, high: int = 8,
               key: str = 'bits') -> int:
    """``bits`` as an int in ``[low, high]`` (ConfigError otherwise)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or \
            not low <= bits <= high:
        raise ConfigError(f'{owner}.{key}: expected an integer from {low} to '
                          f'{high}, found {bits!r}')
    return bits


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` forward, identity gradient (straight-through)."""
    return x + (torch.round(x) - x).detach()


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` forward, gradient multiplied by ``scale``."""
    return x * scale + (x - x * scale).detach()


class BaseQuantizer(nn.Module, metaclass=abc.ABCMeta):
    """A fake quantizer of one tensor role (``'weight'`` or
    ``'activation'``) at ``bits`` bits; ``enabled=False`` passes values
    through unchanged."""

    name = 'quantizer'

    def __init__(self, bits: int, role: str, low: int = 1):
        super().__init__()
        owner = type(self).__name__
        self.bits = check_bits(bits, owner, low)
        if role not in ROLES:
            raise ConfigError(f'{owner}.role: expected one of {ROLES}, '
                              f'found {role!r}')
        self.role = role
        self.enabled = True

    @property
    def levels(self) -> int:
        """``n = 2 ** bits - 1`` steps between the lowest and highest
        level."""
        return 2 ** self.bits - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantize(x) if self.enabled else x

    @abc.abstractmethod
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """The method's fake-quantized ``x``."""

    def extra_repr(self) -> str:
        return f'bits={self.bits}, role={self.role!r}'
