"""FitNet's hint loss."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ._args import choice, real, same_shape


@MODELS.register_module()
class HintLoss(nn.Module):
    """Mean squared error between the regressed student and the teacher.

    ``loss = w * mean((s - t)^2)`` over every element (``reduction='mean'``),
    or the sum (``'sum'``), or the unreduced squares (``'none'``). The
    teacher is a target: it is detached.

    Args:
        loss_weight: w.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean'):
        super().__init__()
        self.loss_weight = real(loss_weight, 'loss_weight', 'HintLoss')
        self.reduction = choice(reduction, 'reduction', 'HintLoss',
                                ('mean', 'sum', 'none'))

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        same_shape(student, teacher, 'HintLoss')
        return self.loss_weight * F.mse_loss(student, teacher.detach(),
                                             reduction=self.reduction)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, reduction={self.reduction!r}'
