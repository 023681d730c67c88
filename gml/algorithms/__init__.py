"""Algorithms: each wraps a model (``algorithm.model``) and owns its steps."""
from ..registry import ALGORITHMS, build_algorithm
from .base import BaseAlgorithm

__all__ = ['ALGORITHMS', 'BaseAlgorithm', 'build_algorithm']
