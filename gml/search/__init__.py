"""Hyper-parameter search over whole training runs.

Only :func:`report` is imported here; the controller, searchers and
schedulers load when the ``search-*`` commands need them.
"""
from .report import report

__all__ = ['report']
