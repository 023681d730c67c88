"""DoReFa-Net quantizers (Zhou et al., 2016)."""
import torch

from ...registry import MODELS
from .tensor_quantizer import TensorQuantizer, round_ste


@MODELS.register_module()
class DoReFaQuantizer(TensorQuantizer):
    """DoReFa's uniform quantizers, straight-through gradients.

    * activations: ``round(clamp(x, 0, clip) * n / clip) * clip / n``;
    * weights, ``bits > 1``: ``t = tanh(w)``, ``y = t / (2 max|t|) + 0.5``
      quantized on ``[0, 1]``, mapped to ``2 y - 1``;
    * weights, ``bits == 1``: ``sign(w) * mean|w|`` (the mean over the
      whole tensor; 0 counts as positive), identity gradient.

    Args:
        bits: 1..8.
        role: ``'weight'`` or ``'activation'``.
        clip: the activations' fixed clipping value.
    """

    def __init__(self, bits: int = 4, role: str = 'activation',
                 clip: float = 1.0):
        super().__init__(bits, role)
        self.clip = float(clip)

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        n = self.levels
        if self.role == 'activation':
            y = torch.clamp(x, 0, self.clip)
            return round_ste(y * n / self.clip) * self.clip / n
        if self.bits == 1:
            binary = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
            return x + (binary * x.abs().mean() - x).detach()
        t = torch.tanh(x)
        y = t / (2 * t.abs().max()) + 0.5
        return 2 * (round_ste(y * n) / n) - 1
