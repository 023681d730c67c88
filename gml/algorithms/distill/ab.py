"""Knowledge transfer via distillation of activation boundaries (AB)."""
from typing import Dict, Optional

import torch

from ...registry import ALGORITHMS
from .teacher_student import TeacherStudentDistillation, current_epoch


@ALGORITHMS.register_module()
class ABTeacherStudentDistillation(TeacherStudentDistillation):
    """The two-stage AB procedure (Heo et al., AAAI 2019).

    Stage 1 (the first ``init_epochs`` epochs): the student and its
    connectors learn only the AB loss of every head, which should compare
    pre-ReLU features (record a ReLU's ``input``). Stage 2: ordinary
    training on the student's own loss (plus the heads when
    ``distill_after_init``). The stage follows the Runner's epoch, which a
    resumed run restores, so the switch survives a restart.

    Args:
        init_epochs: length of stage 1 in epochs.
        distill_after_init: keep the AB heads in stage 2.
        **kwargs: as :class:`TeacherStudentDistillation`.
    """

    def __init__(self, model, distill_cfg: Optional[dict] = None,
                 init_epochs: int = 1,
                 distill_after_init: bool = False, **kwargs):
        super().__init__(model, distill_cfg, **kwargs)
        self.init_epochs = int(init_epochs)
        self.distill_after_init = bool(distill_after_init)

    def stage(self) -> str:
        """``'init'`` (AB initialisation) or ``'train'``."""
        return 'init' if current_epoch() < self.init_epochs else 'train'

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        try:
            if self.stage() == 'init':
                return self.head_only_losses(inputs)
            if self.distill_after_init:
                return self.distill_losses(inputs, data_samples)
            return self.student_losses(inputs, data_samples)
        finally:
            self.distiller.recorder.clear()
