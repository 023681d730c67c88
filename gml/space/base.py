"""The contract every search space follows, and the table of space types.

This module (like all of :mod:`gml.space`) imports neither torch nor mmengine,
so the HPO command-line tools start fast.
"""
from abc import ABC, abstractmethod
import random
from typing import Any, Callable, Dict, List, Optional, Type, Union

from ..errors import ConfigError
from ..utils.checks import is_int

RandomLike = Union[None, int, random.Random]

SPACE_TYPES: Dict[str, Type['Space']] = {}


class SpaceError(ConfigError, ValueError):
    """A search space was declared or used wrongly.

    The message starts with the key path of the offending space, e.g.
    ``backbone.search_space.MB_out_channels[1]: default 2048 not in data``.
    """


def register_space(cls: Type['Space']) -> Type['Space']:
    """Make a space class buildable from ``dict(type=cls.__name__, ...)``."""
    SPACE_TYPES[cls.__name__] = cls
    return cls


def as_rng(seed: RandomLike) -> random.Random:
    """Return a :class:`random.Random` for a seed, or the generator itself."""
    if isinstance(seed, random.Random):
        return seed
    return random.Random(seed)


def join_key(prefix: str, part: Union[str, int]) -> str:
    """Extend a key path: ``a.b`` + ``c`` -> ``a.b.c``; ``a`` + ``0`` -> ``a[0]``."""
    if isinstance(part, int):
        return f'{prefix}[{part}]'
    return f'{prefix}.{part}' if prefix else str(part)


class Space(ABC):
    """One searchable dimension.

    Subclasses implement :meth:`grid`, :meth:`sample`, :meth:`validate` and
    :meth:`to_config`. ``key`` is the dotted path of the space inside its
    config, used only to make error messages point at the right place.
    """

    def __init__(self, key: str = ''):
        self.key = key

    # -- the interface ------------------------------------------------------
    @abstractmethod
    def grid(self) -> List[Any]:
        """Every value of the space, in order (for grid search)."""

    @abstractmethod
    def sample(self, seed: RandomLike = None) -> Any:
        """A random value; the same seed gives the same value."""

    @abstractmethod
    def validate(self, value: Any) -> Any:
        """Return ``value`` if the space contains it, else raise SpaceError."""

    @abstractmethod
    def to_config(self) -> dict:
        """A plain dict that :func:`build_space` turns back into this space."""

    @property
    @abstractmethod
    def default(self) -> Any:
        ...

    @property
    @abstractmethod
    def min(self) -> Any:
        ...

    @property
    @abstractmethod
    def max(self) -> Any:
        ...

    # -- shared helpers -----------------------------------------------------
    def fail(self, message: str) -> 'SpaceError':
        """Build a :class:`SpaceError` whose message names this space's key."""
        where = self.key or type(self).__name__
        return SpaceError(f'{where}: {message}')

    def __len__(self) -> int:
        return len(self.grid())

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and \
            self.to_config() == other.to_config()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.to_config().items()
                         if k != 'type')
        return f'{type(self).__name__}({args})'


def build_space(cfg: dict, key: str = '') -> Space:
    """Build one space from ``dict(type='Categorical'|'Int'|..., **args)``."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise SpaceError(f'{key or "space"}: expected a dict with a `type` '
                         f'key, found {cfg!r}')
    args = dict(cfg)
    type_name = args.pop('type')
    space_cls = SPACE_TYPES.get(type_name)
    if space_cls is None:
        raise SpaceError(f'{key or "space"}: unknown space type '
                         f'{type_name!r}; expected one of '
                         f'{sorted(SPACE_TYPES)}')
    try:
        return space_cls(key=key, **args)
    except TypeError as exc:  # unexpected or missing constructor argument
        raise SpaceError(f'{key or type_name}: {type_name} {exc}') from None


def check_default(space: Space, default: Any,
                  fallback: Callable[[], Any]) -> Any:
    """Validate a declared default, or compute the fallback default."""
    if default is None:
        return fallback()
    try:
        return space.validate(default)
    except SpaceError as exc:
        detail = str(exc).split(': ', 1)[-1]
        raise space.fail(f'default {detail}') from None


def optional_int(space: Space, name: str, value: Optional[Any]) -> \
        Optional[int]:
    """Check that an optional argument is an int (not a bool)."""
    if value is None:
        return None
    if not is_int(value):
        raise space.fail(f'{name} must be an integer, found {value!r}')
    return value
