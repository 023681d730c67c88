"""Algorithms: each wraps a model (``algorithm.model``) and owns its steps."""
from ..registry import ALGORITHMS, build_algorithm
from .base import BaseAlgorithm
from .nas import BigNAS
from .pruning import DMCP
from .quantization import QAT
from .distill import (ABTeacherStudentDistillation, ImageClassifierDistiller,
                      TeacherStudentDistillation)

__all__ = ['ALGORITHMS', 'BaseAlgorithm', 'build_algorithm',
           'TeacherStudentDistillation', 'ImageClassifierDistiller',
           'ABTeacherStudentDistillation', 'BigNAS', 'DMCP', 'QAT']
