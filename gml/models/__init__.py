"""Model building blocks (backbones, heads, ops, losses, connectors).

``build_algorithm`` is also importable from here, as the design guide shows
(``from gml.models import build_algorithm``).
"""
from ..registry import MODELS, build_algorithm, build_model
from . import (backbones, classifiers, connectors, distillers,  # noqa: F401
               heads, losses, ops, pruning,
               quantizers)  # (importing registers the modules)

__all__ = ['MODELS', 'build_algorithm', 'build_model']
