"""Grid search: every configuration of the space tree, each once."""
from abc import abstractmethod
import copy
import itertools
from collections import Counter
from typing import Any, Dict, Iterator, Optional

from ...errors import ConfigError
from ...space import SpaceError, grid_of, grid_size
from ...space.codec import params_key
from ..registry import SEARCHERS
from .base import Params, Searcher


class ListSearcher(Searcher):
    """Hands out a fixed sequence of configurations, each exactly once.

    Subclasses implement :meth:`configs`. Configurations already observed or
    pending (replayed on resume) are skipped when the walk reaches them, so a
    resumed task never proposes a point twice.
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None):
        super().__init__(space, optimize_mode, seed)
        self._iter: Optional[Iterator[Any]] = None
        self._replayed: Counter = Counter()  # handed out, not by this walk
        self._issued: Counter = Counter()    # handed out by this walk
        self._done = False

    @abstractmethod
    def configs(self) -> Iterator[Any]:
        """Every configuration to hand out, in order."""

    def suggest(self) -> Optional[Params]:
        if self._done:
            return None
        if self._iter is None:
            self._iter = self.configs()
        for config in self._iter:
            key = params_key(config)
            if self._replayed[key] > 0:
                self._replayed[key] -= 1
                continue
            self._issued[key] += 1
            return copy.deepcopy(config)
        self._done = True
        return None

    def observe(self, params: Params, reward: Optional[float]) -> None:
        key = params_key(params)
        if self._issued[key] > 0:
            self._issued[key] -= 1
        else:
            self._replayed[key] += 1

    def mark_pending(self, params: Params) -> None:
        self._replayed[params_key(params)] += 1


@SEARCHERS.register('grid')
class GridSearcher(ListSearcher):
    """Every configuration of the cartesian product, in ``grid_of`` order.

    Config keys: ``optimize_mode`` (``maximize``); ``seed`` is accepted and
    unused. Every space must be enumerable: a ``Real`` needs ``step`` or
    ``count``. ``suggest()`` returns None once the grid is used up.
    """

    def check_space(self, space: Dict[str, Any]) -> None:
        for name, value in space.items():
            key = self.space_key(name)
            try:
                grid_size(value)
            except SpaceError as exc:
                detail = str(exc)
                if detail.startswith(key + ': '):
                    detail = detail[len(key) + 2:]
                raise ConfigError(f'{key}: GridSearcher needs a finite grid: '
                                  f'{detail}') from None

    @property
    def total(self) -> int:
        """How many configurations the grid holds."""
        return grid_size(self.space)

    def configs(self) -> Iterator[Any]:
        names = list(self.space)
        choices = [grid_of(self.space[name]) for name in names]
        for combo in itertools.product(*choices):
            yield dict(zip(names, combo))
