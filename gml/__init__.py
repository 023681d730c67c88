"""gml: AutoML and model compression for OpenMMLab training.

Importing :mod:`gml` is cheap: torch, mmengine and mmpretrain load only when a
submodule that needs them is imported (``gml.registry``, ``gml.algorithms``,
``gml.datasets``, ...).
"""
from .version import __version__

__all__ = ['__version__']
