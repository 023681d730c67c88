"""Channel-pruning algorithms."""
from .dmcp import DMCP

__all__ = ['DMCP']
