"""A distillation head: connectors on both sides, then a loss."""
from typing import Optional

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS


def _build(cfg):
    return None if cfg is None else MODELS.build(cfg)


@MODELS.register_module()
class BaseDistillationHead(nn.Module):
    """``loss(stu_connector(student_feature), tea_connector(teacher_feature))``.

    Args:
        name: names the loss in the logs (``loss_<name>``).
        loss: the loss config, e.g. ``dict(type='gml.FTLoss')``.
        stu_connector: optional connector applied to the student feature.
        tea_connector: optional connector applied to the teacher feature.

    A connector on either side with a ``pretrain_criterion`` (its
    ``needs_pretrain``) is trained first, alone, to reconstruct its side's
    feature (the frozen teacher's, or the student's as it is before training,
    e.g. from ``algorithm.pretrained``), then frozen.
    """

    def __init__(self, name: str, loss: dict,
                 stu_connector: Optional[dict] = None,
                 tea_connector: Optional[dict] = None):
        super().__init__()
        self.name = name
        self.loss = MODELS.build(loss)
        self.stu_connector = _build(stu_connector)
        self.tea_connector = _build(tea_connector)
        for side in ('stu_connector', 'tea_connector'):
            connector = getattr(self, side)
            if getattr(connector, 'needs_pretrain', False) and \
                    not hasattr(connector, 'pretrain_loss'):
                raise ConfigError(
                    f'head {name!r}: {side} ({type(connector).__name__}) has '
                    'a pretrain_criterion but no pretrain_loss to train it '
                    'with')

    @staticmethod
    def _pretrains(connector) -> bool:
        return bool(getattr(connector, 'needs_pretrain', False))

    @property
    def pretrains_student_side(self) -> bool:
        return self._pretrains(self.stu_connector)

    @property
    def pretrains_teacher_side(self) -> bool:
        return self._pretrains(self.tea_connector)

    def pretrained_connectors(self):
        """The connectors of this head that have a pretraining stage."""
        return [c for c in (self.stu_connector, self.tea_connector)
                if self._pretrains(c)]

    def forward(self, student: torch.Tensor,
                teacher: torch.Tensor) -> torch.Tensor:
        if self.stu_connector is not None:
            student = self.stu_connector(student)
        if self.tea_connector is not None:
            teacher = self.tea_connector(teacher)
        return self.loss(student, teacher)

    def pretrain_loss(self, teacher: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss of the teacher-side connector."""
        return self.tea_connector.pretrain_loss(teacher)

    def student_pretrain_loss(self, student: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss of the student-side connector."""
        return self.stu_connector.pretrain_loss(student)
