"""Knowledge-distillation algorithms."""
from .ab import ABTeacherStudentDistillation
from .teacher_student import (ImageClassifierDistiller,
                              TeacherStudentDistillation)

__all__ = ['TeacherStudentDistillation', 'ImageClassifierDistiller',
           'ABTeacherStudentDistillation']
