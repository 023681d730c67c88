"""Distillers: teachers, feature hooks and distillation heads."""
from .discriminator import LogitDiscriminator
from .head import BaseDistillationHead
from .recorder import FeatureRecorder, find_module
from .teacher_distiller import (InplaceDistiller, TeacherDistiller,
                                build_distiller, build_teacher,
                                mean_teacher_probs, run_model, teacher_keys)

__all__ = ['BaseDistillationHead', 'FeatureRecorder', 'find_module',
           'TeacherDistiller', 'InplaceDistiller', 'LogitDiscriminator',
           'mean_teacher_probs', 'run_model', 'build_distiller',
           'build_teacher', 'teacher_keys']
