"""Cross-entropy against soft targets."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...utils.checks import check_bool
from ._args import real, same_shape


@MODELS.register_module()
class SoftCrossEntropyLoss(nn.Module):
    """Cross-entropy of the student against the teacher's soft targets.

    ``loss = w * T^2 * (1/B) * sum_b sum_c -p_bc * log_softmax(s_b/T)_c``
    with ``p = softmax(t/T)``, or ``p = t`` as given when ``target_is_prob``
    (then T only softens the student). The T^2 factor (1 at the default
    T = 1) keeps the gradient scale independent of T, as in :class:`KDLoss`.
    Unlike KL, the value at identical inputs is the teacher's entropy, not 0.
    The teacher is a target: it is detached.

    Args:
        temperature: T > 0.
        loss_weight: w.
        target_is_prob: the teacher input is already a probability
            distribution over dim 1 (e.g. MEAL V2's averaged teachers).
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0,
                 target_is_prob: bool = False):
        super().__init__()
        owner = 'SoftCrossEntropyLoss'
        self.temperature = real(temperature, 'temperature', owner, 0,
                                strict=True)
        self.loss_weight = real(loss_weight, 'loss_weight', owner)
        self.target_is_prob = check_bool(target_is_prob,
                                         f'{owner}.target_is_prob')

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        same_shape(student, teacher, 'SoftCrossEntropyLoss', min_dim=2)
        t = self.temperature
        teacher = teacher.detach()
        target = teacher if self.target_is_prob \
            else F.softmax(teacher / t, dim=1)
        ce = -(target * F.log_softmax(student / t, dim=1)).sum(dim=1)
        return self.loss_weight * t * t * ce.mean()

    def extra_repr(self) -> str:
        return f'temperature={self.temperature}, ' \
               f'loss_weight={self.loss_weight}, ' \
               f'target_is_prob={self.target_is_prob}'
