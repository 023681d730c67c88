"""Activation-boundary distillation loss."""
import torch
import torch.nn as nn

from ...registry import MODELS
from ._args import real, same_shape


@MODELS.register_module()
class ABLoss(nn.Module):
    """Activation-boundary transfer (Heo et al., 2019) on pre-ReLU features.

    ``loss = w/B * sum [(s+m)^2 * 1(s > -m and t <= 0)
    + (s-m)^2 * 1(s <= m and t > 0)]``, summed over every element and divided
    by the batch size B. It is 0 only where the signs agree and
    ``|s| >= m``. Per-layer weights (e.g. 2^(i-n+1), or 1, 1/2, 1/4 times
    3/1000) go in ``loss_weight``. The teacher only selects the terms; it is
    detached and gets no gradient.

    Args:
        margin: m >= 0.
        loss_weight: w.
    """

    def __init__(self, margin: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.margin = real(margin, 'margin', 'ABLoss', 0)
        self.loss_weight = real(loss_weight, 'loss_weight', 'ABLoss')

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        same_shape(student, teacher, 'ABLoss', min_dim=1)
        m = self.margin
        t_on = teacher.detach() > 0
        push_down = (student > -m) & ~t_on
        push_up = (student <= m) & t_on
        terms = (student + m).pow(2) * push_down \
            + (student - m).pow(2) * push_up
        return self.loss_weight * terms.sum() / student.shape[0]

    def extra_repr(self) -> str:
        return f'margin={self.margin}, loss_weight={self.loss_weight}'
