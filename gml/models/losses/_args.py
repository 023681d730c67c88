"""Argument checks shared by the distillation losses and connectors.

Bad constructor arguments raise :class:`gml.errors.ConfigError` naming the
argument; tensors that cannot be compared raise ``ValueError``.
"""
import math
from numbers import Integral, Real
from typing import Iterable

import torch

from ...errors import ConfigError


def real(value, name: str, owner: str, minimum=None,
         strict: bool = False) -> float:
    """``value`` as a finite float; ``> minimum`` (strict) or ``>=``."""
    if isinstance(value, bool) or not isinstance(value, Real) \
            or not math.isfinite(float(value)):
        raise ConfigError(f'{owner}.{name}: expected a finite number, '
                          f'found {value!r}')
    value = float(value)
    if minimum is not None and (value < minimum
                                or (strict and value == minimum)):
        bound = f'> {minimum:g}' if strict else f'>= {minimum:g}'
        raise ConfigError(f'{owner}.{name}: expected a number {bound}, '
                          f'found {value!r}')
    return value


def positive_int(value, name: str, owner: str) -> int:
    """``value`` as an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, Integral) \
            or value < 1:
        raise ConfigError(f'{owner}.{name}: expected a positive integer, '
                          f'found {value!r}')
    return int(value)


def choice(value, name: str, owner: str, options: Iterable[str]) -> str:
    """``value`` if it is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ConfigError(f'{owner}.{name}: expected one of '
                          f'{", ".join(map(repr, options))}, found {value!r}')
    return value


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
