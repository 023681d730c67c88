"""Search-space primitives shared by NAS and HPO.

Pure Python: importing this package loads neither torch nor mmengine.
"""
from .base import SPACE_TYPES, Space, SpaceError, build_space, register_space
from .categorical import Categorical
from .codec import GeneCodec, params_key
from .file import File
from .integer import Int
from .nested import Nested
from .real import Real
from .supernet import Supernet, SupernetBackbone
from .tree import (build_search_space_recur, default_of, grid_of, grid_size,
                   has_spaces, is_space_config, iter_spaces, map_spaces,
                   sample_of, to_config, validate_tree)

__all__ = [
    'Space', 'SpaceError', 'SPACE_TYPES', 'build_space', 'register_space',
    'Categorical', 'Int', 'Real', 'Nested', 'File',
    'build_search_space_recur', 'default_of', 'grid_of', 'grid_size',
    'has_spaces', 'is_space_config', 'iter_spaces', 'map_spaces', 'sample_of',
    'to_config', 'validate_tree', 'GeneCodec', 'params_key', 'Supernet',
    'SupernetBackbone'
]
