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
        tea_connector: optional connector applied to the teacher feature; one
            with ``pretrain_criterion`` is trained first to reconstruct the
            teacher feature, then frozen.
    """

    def __init__(self, name: str, loss: dict,
                 stu_connector: Optional[dict] = None,
                 tea_connector: Optional[dict] = None):
        super().__init__()
        self.name = name
        self.loss = MODELS.build(loss)
        self.stu_connector = _build(stu_connector)
        self.tea_connector = _build(tea_connector)
        if getattr(self.stu_connector, 'needs_pretrain', False):
            raise ConfigError(f'head {name!r}: stu_connector has a '
                              'pretrain_criterion, but only teacher-side '
                              'connectors are pretrained (they learn from '
                              'the frozen teacher alone)')

    def pretrained_connectors(self):
        """The connectors of this head that have a pretraining stage."""
        if getattr(self.tea_connector, 'needs_pretrain', False):
            return [self.tea_connector]
        return []

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
