"""Channel-wise distillation loss."""
import torch
import torch.nn as nn

from ...registry import MODELS
from ._args import real, same_shape
from .kd_loss import soft_kl


@MODELS.register_module()
class ChannelWiseDivergence(nn.Module):
    """Channel-wise distillation (Shu et al., 2021).

    Each channel's map is a distribution over its H*W positions:
    ``loss = w * T^2/(N*C) * sum_{n,c} KL(softmax(t_nc/T) || softmax(s_nc/T))``
    with the softmax and the KL taken over the positions. Inputs are
    ``(N, C, *spatial)``. The teacher is a target: it is detached.

    Args:
        temperature: T > 0.
        loss_weight: w.
    """

    def __init__(self, temperature: float = 4.0, loss_weight: float = 1.0):
        super().__init__()
        owner = 'ChannelWiseDivergence'
        self.temperature = real(temperature, 'temperature', owner, 0,
                                strict=True)
        self.loss_weight = real(loss_weight, 'loss_weight', owner)

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        same_shape(student, teacher, 'ChannelWiseDivergence', min_dim=3)
        t = self.temperature
        kl = soft_kl(student.flatten(2), teacher.detach().flatten(2), t,
                     dim=2)  # (N, C)
        return self.loss_weight * t * t * kl.mean()

    def extra_repr(self) -> str:
        return f'temperature={self.temperature}, ' \
               f'loss_weight={self.loss_weight}'
