"""Whole configurations whose leaves may be search spaces.

A *space tree* is any nesting of dicts and lists (tuples count as lists) in
which some leaves are :class:`~gml.space.base.Space` objects. These functions
walk such a tree: build it from plain config, enumerate its grid, sample it,
take its defaults, check a concrete configuration against it, and turn it back
into plain config.
"""
import itertools
from typing import Any, Callable, Iterator, List, Tuple

from .base import (SPACE_TYPES, RandomLike, Space, SpaceError, as_rng,
                   build_space, join_key)


def is_space_config(node: Any) -> bool:
    """True for a dict such as ``dict(type='Categorical', data=[...])``."""
    return isinstance(node, dict) and node.get('type') in SPACE_TYPES


def build_search_space_recur(cfg: Any, key: str = '') -> Any:
    """Turn every space dict inside ``cfg`` into a space object.

    Dicts and lists keep their shape; other values are kept as they are.
    ``key`` prefixes the paths that error messages report.
    """
    if isinstance(cfg, Space):
        return cfg
    if is_space_config(cfg):
        return build_space(cfg, key)
    if isinstance(cfg, dict):
        return {k: build_search_space_recur(v, join_key(key, k))
                for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [build_search_space_recur(v, join_key(key, i))
                for i, v in enumerate(cfg)]
    return cfg


def map_spaces(tree: Any, fn: Callable[[Space], Any]) -> Any:
    """Copy ``tree`` with every space replaced by ``fn(space)``.

    Spaces are visited in a fixed order (dict insertion order, then list
    order), so a seeded ``fn`` gives reproducible results.
    """
    if isinstance(tree, Space):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: map_spaces(v, fn) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [map_spaces(v, fn) for v in tree]
    return tree


def iter_spaces(tree: Any, key: str = '') -> Iterator[Tuple[str, Space]]:
    """Yield ``(key path, space)`` for every space in the tree."""
    if isinstance(tree, Space):
        yield key, tree
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from iter_spaces(v, join_key(key, k))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from iter_spaces(v, join_key(key, i))


def has_spaces(tree: Any) -> bool:
    """True if any leaf of the tree is a space."""
    return next(iter_spaces(tree), None) is not None


def default_of(tree: Any) -> Any:
    """The configuration made of every space's default."""
    return map_spaces(tree, lambda space: space.default)


def sample_of(tree: Any, seed: RandomLike = None) -> Any:
    """A random configuration; the same seed gives the same configuration."""
    rng = as_rng(seed)
    return map_spaces(tree, lambda space: space.sample(rng))


def to_config(tree: Any) -> Any:
    """The plain-config form of the tree (inverse of
    :func:`build_search_space_recur`)."""
    return map_spaces(tree, lambda space: space.to_config())


def grid_of(tree: Any) -> List[Any]:
    """Every configuration of the tree: the cartesian product of its spaces."""
    if isinstance(tree, Space):
        return tree.grid()
    if isinstance(tree, dict):
        keys = list(tree)
        choices = [grid_of(tree[k]) for k in keys]
        return [dict(zip(keys, combo)) for combo in itertools.product(*choices)]
    if isinstance(tree, (list, tuple)):
        choices = [grid_of(v) for v in tree]
        return [list(combo) for combo in itertools.product(*choices)]
    return [tree]


def grid_size(tree: Any) -> int:
    """The number of configurations :func:`grid_of` would return."""
    if isinstance(tree, Space):
        return len(tree)
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, (list, tuple)):
        size = 1
        for value in tree:
            size *= grid_size(value)
        return size
    return 1


def validate_tree(tree: Any, value: Any, key: str = '') -> Any:
    """Check that ``value`` is one configuration of ``tree``; return it.

    Raises :class:`SpaceError` naming the first key that does not fit.
    """
    if isinstance(tree, Space):
        return tree.validate(value)
    if isinstance(tree, dict):
        if not isinstance(value, dict):
            raise SpaceError(f'{key or "config"}: expected a dict, found '
                             f'{value!r}')
        missing = [k for k in tree if k not in value]
        extra = [k for k in value if k not in tree]
        if missing or extra:
            raise SpaceError(f'{key or "config"}: keys differ from the space '
                             f'(missing {missing}, unexpected {extra})')
        return {k: validate_tree(tree[k], value[k], join_key(key, k))
                for k in tree}
    if isinstance(tree, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(tree):
            raise SpaceError(f'{key or "config"}: expected a list of '
                             f'{len(tree)} items, found {value!r}')
        return [validate_tree(t, v, join_key(key, i))
                for i, (t, v) in enumerate(zip(tree, value))]
    if tree != value:
        raise SpaceError(f'{key or "config"}: expected the fixed value '
                         f'{tree!r}, found {value!r}')
    return value
