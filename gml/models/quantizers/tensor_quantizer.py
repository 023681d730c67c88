"""What every low-bit fake quantizer of one tensor shares: the bit check,
the straight-through rounding and the gradient scale trick."""
import abc

import torch
import torch.nn as nn

from ...utils.checks import check_choice, check_int

ROLES = ('weight', 'activation')
MAX_BITS = 8


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` forward, identity gradient (straight-through)."""
    return x + (torch.round(x) - x).detach()


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` forward, gradient multiplied by ``scale``."""
    return x * scale + (x - x * scale).detach()


class TensorQuantizer(nn.Module, metaclass=abc.ABCMeta):
    """A fake quantizer of one tensor role (``'weight'`` or
    ``'activation'``) at ``bits`` bits: it maps a tensor to its quantized
    values in the same dtype, with the gradient its method prescribes;
    ``enabled=False`` passes values through unchanged.

    A model quantizer (:class:`~.model_quantizer.ModelQuantizer`) puts
    these into a model's layers; subclasses implement :meth:`quantize`.
    """

    name = 'quantizer'

    def __init__(self, bits: int, role: str, low: int = 1):
        super().__init__()
        owner = type(self).__name__
        self.bits = check_int(bits, f'{owner}.bits', low, MAX_BITS)
        self.role = check_choice(role, f'{owner}.role', ROLES)
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
