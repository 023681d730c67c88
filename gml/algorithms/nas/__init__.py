"""Neural architecture search algorithms."""
from .bignas import BigNAS, sandwich_kinds

__all__ = ['BigNAS', 'sandwich_kinds']
