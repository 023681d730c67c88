"""Hinton's knowledge-distillation loss."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ._args import real, same_shape


def soft_kl(student: torch.Tensor, teacher: torch.Tensor,
            temperature: float, dim: int = 1) -> torch.Tensor:
    """KL(softmax(t/T) || softmax(s/T)) summed over ``dim``, per row.

    Computed as ``sum(p*log(p) - p*log_softmax(s/T))`` by ``F.kl_div``, so
    terms where the teacher probability is exactly 0 contribute 0 and the
    rounding matches the common ``kl_div(..., 'batchmean')`` reference.
    """
    log_q = F.log_softmax(student / temperature, dim=dim)
    p = F.softmax(teacher / temperature, dim=dim)
    return F.kl_div(log_q, p, reduction='none').sum(dim=dim)


@MODELS.register_module()
class KDLoss(nn.Module):
    """Soft-target distillation (Hinton et al., 2015).

    ``loss = w * T^2 * (1/B) * sum_b KL(softmax(t_b/T) || softmax(s_b/T))``,
    the KL summed over classes (dim 1) and divided by the batch size
    ("batchmean", never the mean over B*C). Its gradient with respect to the
    student logits is ``w * T * (softmax(s/T) - softmax(t/T)) / B``. Inputs
    with more than two dimensions treat every position as a sample. The
    teacher is a target: it is detached.

    Args:
        temperature: T > 0.
        loss_weight: w.
    """

    def __init__(self, temperature: float = 4.0, loss_weight: float = 1.0):
        super().__init__()
        self.temperature = real(temperature, 'temperature', 'KDLoss', 0,
                                strict=True)
        self.loss_weight = real(loss_weight, 'loss_weight', 'KDLoss')

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        same_shape(student, teacher, 'KDLoss', min_dim=2)
        t = self.temperature
        kl = soft_kl(student, teacher.detach(), t)
        return self.loss_weight * t * t * kl.mean()

    def extra_repr(self) -> str:
        return f'temperature={self.temperature}, ' \
               f'loss_weight={self.loss_weight}'
