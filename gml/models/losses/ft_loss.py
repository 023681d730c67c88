"""Factor Transfer loss."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ._args import real, same_shape


@MODELS.register_module()
class FTLoss(nn.Module):
    """Distance between L2-normalised factors (Kim et al., 2018).

    With ``phi(x) = x_flat / ||x_flat||_2`` per sample (D elements),
    ``loss = w * (1/B) * sum_b (1/D) * sum_d |phi(s_b)_d - phi(t_b)_d|^p``,
    i.e. the per-element mean of ``|phi(s) - phi(t)|^p`` (the L1 loss of the
    authors' code for p = 1, which is the scale the paper's beta = 500 was
    tuned for). Scale-invariant: ``loss(x, c*x) = 0`` for c > 0. The teacher
    (the paraphraser's factor) is a target: it is detached.

    Args:
        loss_weight: w (beta in the paper).
        p: the exponent, > 0; 1 is the paper's choice.
    """

    def __init__(self, loss_weight: float = 1.0, p: float = 1):
        super().__init__()
        self.loss_weight = real(loss_weight, 'loss_weight', 'FTLoss')
        self.p = real(p, 'p', 'FTLoss', 0, strict=True)

    @staticmethod
    def factor(x: torch.Tensor) -> torch.Tensor:
        """``phi``: the flattened sample scaled to unit L2 norm."""
        return F.normalize(x.flatten(1), p=2, dim=1)

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        same_shape(student, teacher, 'FTLoss', min_dim=2)
        diff = (self.factor(student) - self.factor(teacher.detach())).abs()
        if self.p != 1:
            diff = diff.pow(self.p)
        return self.loss_weight * diff.mean()

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, p={self.p:g}'
