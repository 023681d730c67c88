"""A choice among listed values."""
from typing import Any, List, Optional, Sequence

from .base import RandomLike, Space, as_rng, check_default, register_space


@register_space
class Categorical(Space):
    """One of ``data``; ``default`` is the first value unless given.

    ``min``/``max`` are the smallest/largest value when the values can be
    ordered, otherwise the first/last listed.
    """

    def __init__(self, data: Sequence[Any], default: Optional[Any] = None,
                 key: str = ''):
        super().__init__(key)
        if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
            raise self.fail(f'data must be a list of values, found {data!r}')
        if len(data) == 0:
            raise self.fail('data must not be empty')
        self.data: List[Any] = list(data)
        self._default = check_default(self, default, lambda: self.data[0])

    def grid(self) -> List[Any]:
        return list(self.data)

    def sample(self, seed: RandomLike = None) -> Any:
        return as_rng(seed).choice(self.data)

    def validate(self, value: Any) -> Any:
        if value not in self.data:
            raise self.fail(f'{value!r} not in data {self.data}')
        return value

    def to_config(self) -> dict:
        return dict(type='Categorical', data=list(self.data),
                    default=self._default)

    @property
    def default(self) -> Any:
        return self._default

    def _ordered(self) -> List[Any]:
        try:
            return sorted(self.data)
        except TypeError:
            return list(self.data)

    @property
    def min(self) -> Any:
        return self._ordered()[0]

    @property
    def max(self) -> Any:
        return self._ordered()[-1]
