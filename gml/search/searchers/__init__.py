"""The searchers: they propose the parameters of every trial.

Importing this package registers every searcher in
:data:`gml.search.registry.SEARCHERS`.
"""
from ..registry import SEARCHERS
from .base import Searcher
from .batch import BatchSearcher
from .evolution import EvolutionSearcher
from .grid import GridSearcher
from .random import RandomSearcher
from .skopt import SkoptSearcher
from .tpe import TPESearcher

__all__ = ['Searcher', 'SEARCHERS', 'GridSearcher', 'BatchSearcher',
           'RandomSearcher', 'SkoptSearcher', 'EvolutionSearcher',
           'TPESearcher']
