"""Whether a search maximizes or minimizes its reward: one vocabulary.

Configs write ``optimize_mode: maximize`` or ``minimize`` (the design
guide's words, for the searcher and the assessor alike); ``max`` and
``min`` are accepted too, since earlier configs use them. Everything past
the config holds an :class:`OptimizeMode`.
"""
from enum import Enum
from typing import Callable, Iterable, Optional, TypeVar

from ..errors import ConfigError

T = TypeVar('T')


class OptimizeMode(str, Enum):
    """The direction of the reward; compares equal to its config word."""

    MAXIMIZE = 'maximize'
    MINIMIZE = 'minimize'

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value, key: str) -> 'OptimizeMode':
        """``value`` (a mode, ``maximize``/``minimize`` or ``max``/``min``)
        as a mode; a ConfigError naming ``key`` for anything else."""
        if isinstance(value, OptimizeMode):
            return value
        mode = _WORDS.get(value) if isinstance(value, str) else None
        if mode is None:
            raise ConfigError(f'{key}: expected maximize or minimize (or max '
                              f'/ min), found {value!r}')
        return mode

    def utility(self, reward: float) -> float:
        """``reward`` turned so that larger is always better."""
        return reward if self is OptimizeMode.MAXIMIZE else -reward

    def best(self, items: Iterable[T],
             key: Optional[Callable[[T], float]] = None) -> Optional[T]:
        """The best of ``items`` by ``key`` (the items themselves when
        None); the first of equals; None when there are none."""
        items = list(items)
        if not items:
            return None
        pick = max if self is OptimizeMode.MAXIMIZE else min
        return pick(items, key=key) if key is not None else pick(items)

    def reached(self, value: float, target: float) -> bool:
        """True if ``value`` is at least as good as ``target``."""
        return self.utility(value) >= self.utility(target)


_WORDS = {'maximize': OptimizeMode.MAXIMIZE, 'max': OptimizeMode.MAXIMIZE,
          'minimize': OptimizeMode.MINIMIZE, 'min': OptimizeMode.MINIMIZE}
