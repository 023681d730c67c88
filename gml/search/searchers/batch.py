"""Batch search: run a given list of configurations, each once."""
from typing import Any, Dict, Iterator

from ...errors import ConfigError
from ...space import Nested, Space, iter_spaces
from ..registry import SEARCHERS
from .grid import ListSearcher


@SEARCHERS.register('batch')
class BatchSearcher(ListSearcher):
    """Runs listed configurations, each exactly once, in order.

    Every search arg is either a fixed value or a ``Nested`` space whose
    options are plain values (no spaces inside). With several ``Nested``
    args, they are zipped option by option (the i-th trial takes option i of
    each), so they must list the same number of options; fixed values go into
    every trial. Config keys: ``optimize_mode`` (``maximize``); ``seed`` is
    accepted and unused. ``suggest()`` returns None once all ran.
    """

    def check_space(self, space: Dict[str, Any]) -> None:
        need = 'BatchSearcher needs Nested spaces of plain values'
        sizes: Dict[str, int] = {}
        for name, value in space.items():
            key = self.space_key(name)
            if isinstance(value, Nested):
                for i, option in enumerate(value.options):
                    inner = next(iter_spaces(option), None)
                    if inner is not None:
                        raise ConfigError(
                            f'{key}: {need}, found {type(inner[1]).__name__} '
                            f'inside option {i}')
                sizes[name] = len(value.options)
            elif isinstance(value, Space):
                raise ConfigError(f'{key}: {need}, found '
                                  f'{type(value).__name__}')
            else:
                inner = next(iter_spaces(value), None)
                if inner is not None:
                    raise ConfigError(f'{key}: {need}, found '
                                      f'{type(inner[1]).__name__}')
        if len(set(sizes.values())) > 1:
            first = next(iter(sizes))
            for name, size in sizes.items():
                if size != sizes[first]:
                    raise ConfigError(
                        f'{self.space_key(name)}: BatchSearcher zips its '
                        f'Nested search args option by option, so they need '
                        f'the same number of options; found {size} here and '
                        f'{sizes[first]} in {self.space_key(first)}')

    @property
    def total(self) -> int:
        """How many configurations the batch holds."""
        sizes = [len(v.options) for v in self.space.values()
                 if isinstance(v, Nested)]
        return sizes[0] if sizes else 1

    def configs(self) -> Iterator[Any]:
        for i in range(self.total):
            yield {name: value.options[i] if isinstance(value, Nested)
                   else value for name, value in self.space.items()}
