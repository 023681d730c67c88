"""A choice among whole sub-configurations."""
from typing import Any, List, Optional, Sequence

from .base import (RandomLike, Space, SpaceError, as_rng, join_key,
                   optional_int, register_space)
from .tree import (build_search_space_recur, default_of, grid_of, grid_size,
                   sample_of, to_config, validate_tree)


@register_space
class Nested(Space):
    """One of the configurations in ``data``; each may hold spaces itself.

    ``Nested(data=[dict(depth=18, lr=0.1), dict(depth=50, lr=Real(...))])``
    first picks an option, then resolves the spaces inside it. ``default`` is
    the index of the default option (0 unless given); the default value is
    that option with its own defaults filled in.
    """

    def __init__(self, data: Sequence[Any], default: Optional[int] = None,
                 key: str = ''):
        super().__init__(key)
        if isinstance(data, (str, bytes)) or not isinstance(data, Sequence) \
                or len(data) == 0:
            raise self.fail(f'data must be a non-empty list of '
                            f'configurations, found {data!r}')
        self.options: List[Any] = [
            build_search_space_recur(option, join_key(join_key(key, 'data'), i))
            for i, option in enumerate(data)]
        index = optional_int(self, 'default', default)
        if index is None:
            index = 0
        if not 0 <= index < len(self.options):
            raise self.fail(f'default must be an option index in '
                            f'[0, {len(self.options)}), found {default!r}')
        self.default_index = index

    def grid(self) -> List[Any]:
        values: List[Any] = []
        for option in self.options:
            values.extend(grid_of(option))
        return values

    def __len__(self) -> int:
        return sum(grid_size(option) for option in self.options)

    def sample(self, seed: RandomLike = None) -> Any:
        rng = as_rng(seed)
        return sample_of(rng.choice(self.options), rng)

    def validate(self, value: Any) -> Any:
        for option in self.options:
            try:
                return validate_tree(option, value)
            except SpaceError:
                continue
        raise self.fail(f'{value!r} matches none of the '
                        f'{len(self.options)} options')

    def to_config(self) -> dict:
        return dict(type='Nested', data=[to_config(o) for o in self.options],
                    default=self.default_index)

    @property
    def default(self) -> Any:
        return default_of(self.options[self.default_index])

    @property
    def min(self) -> Any:
        return default_of(self.options[0])

    @property
    def max(self) -> Any:
        return default_of(self.options[-1])
