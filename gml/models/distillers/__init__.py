"""Distillers: teachers, feature hooks and distillation heads."""
from .discriminator import LogitDiscriminator
from .head import BaseDistillationHead
from .recorder import FeatureRecorder, find_module
from .teacher_distiller import (InplaceDistiller, TeacherDistiller,
                                mean_teacher_probs, run_model)

__all__ = ['BaseDistillationHead', 'FeatureRecorder', 'find_module',
           'TeacherDistiller', 'InplaceDistiller', 'LogitDiscriminator',
           'mean_teacher_probs', 'run_model']
