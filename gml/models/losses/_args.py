"""Argument checks shared by the distillation losses and connectors.

Bad constructor arguments raise :class:`gml.errors.ConfigError` naming the
argument; tensors that cannot be compared raise ``ValueError``.
"""
from typing import Iterable

import torch

from ...utils.checks import check_choice, check_int, check_number

# The losses and connectors name a key ``<owner>.<name>``
# (``KDLoss.temperature``); the checks themselves are gml.utils.checks.


def real(value, name: str, owner: str, minimum=None,
         strict: bool = False) -> float:
    """``value`` as a finite float; ``> minimum`` (strict) or ``>=``."""
    return check_number(value, f'{owner}.{name}', minimum, strict=strict,
                        finite=True)


def positive_int(value, name: str, owner: str) -> int:
    """``value`` as an int >= 1."""
    return check_int(value, f'{owner}.{name}', 1)


def choice(value, name: str, owner: str, options: Iterable[str]) -> str:
    """``value`` if it is one of ``options``."""
    return check_choice(value, f'{owner}.{name}', options)


def same_shape(student: torch.Tensor, teacher: torch.Tensor,
               owner: str, min_dim: int = 1) -> None:
    """Raise ``ValueError`` unless the two tensors can be compared."""
    if student.shape != teacher.shape:
        raise ValueError(f'{owner}: student shape {tuple(student.shape)} '
                         f'differs from teacher shape {tuple(teacher.shape)}'
                         '; add a connector that maps one onto the other')
    if student.dim() < min_dim:
        raise ValueError(f'{owner}: expected at least {min_dim} dimensions, '
                         f'found shape {tuple(student.shape)}')
