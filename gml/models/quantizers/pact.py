"""PACT: parameterized clipping activation (Choi et al., 2018)."""
import torch
import torch.nn as nn

from ...registry import MODELS
from .tensor_quantizer import TensorQuantizer


@MODELS.register_module()
class PACTQuantizer(TensorQuantizer):
    """Activations clipped to a learnable ``[0, alpha]`` and quantized on
    it: ``y = clamp(x, 0, alpha)``, ``q = round(y n / alpha) alpha / n``.

    Gradients: ``dq/dx = 1`` for ``0 <= x < alpha`` (straight-through),
    0 elsewhere; ``dq/dalpha = 1`` where ``x >= alpha``, 0 elsewhere.
    Give ``alpha`` its own weight decay through the optimizer's
    ``paramwise_cfg`` (``custom_keys={'.alpha': dict(decay_mult=...)}``).

    Args:
        bits: 1..8.
        init_clip: the starting ``alpha``.
    """

    def __init__(self, bits: int = 4, role: str = 'activation',
                 init_clip: float = 8.0):
        super().__init__(bits, role)
        self.alpha = nn.Parameter(torch.tensor(float(init_clip)))

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha.to(x.dtype)
        clipped = torch.where(x < alpha, torch.relu(x), alpha)
        n = self.levels
        quantized = torch.round(clipped.detach() * n / alpha.detach()) * \
            alpha.detach() / n
        return clipped + (quantized - clipped).detach()
