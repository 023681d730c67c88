"""Neural architecture search algorithms."""
from .bignas import BigNAS, sandwich_kinds
from .evolution import SubnetEvolution, random_subnet_search

__all__ = ['BigNAS', 'sandwich_kinds', 'SubnetEvolution',
           'random_subnet_search']
