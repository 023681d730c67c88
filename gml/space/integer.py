"""Integers on an evenly spaced range whose upper bound is exclusive."""
from typing import List, Optional

from ..utils.checks import is_int
from .base import (RandomLike, Space, as_rng, check_default, optional_int,
                   register_space)


@register_space
class Int(Space):
    """``range(lower, upper, step)``, as Python's ``range``.

    ``Int(lower=192, upper=289, step=32)`` holds {192, 224, 256, 288}.
    ``default`` is ``lower`` unless given.
    """

    def __init__(self, lower: int, upper: int, step: int = 1,
                 default: Optional[int] = None, key: str = ''):
        super().__init__(key)
        self.lower = optional_int(self, 'lower', lower)
        self.upper = optional_int(self, 'upper', upper)
        self.step = optional_int(self, 'step', step)
        if self.step is None or self.step <= 0:
            raise self.fail(f'step must be a positive integer, found {step!r}')
        if self.lower >= self.upper:  # type: ignore[operator]
            raise self.fail(f'lower {lower} must be < upper {upper} '
                            '(upper is exclusive)')
        self._values = range(self.lower, self.upper, self.step)
        self._default = check_default(self, default, lambda: self.lower)

    def grid(self) -> List[int]:
        return list(self._values)

    def sample(self, seed: RandomLike = None) -> int:
        return as_rng(seed).choice(self._values)

    def validate(self, value) -> int:
        if not is_int(value):
            raise self.fail(f'{value!r} is not an integer')
        if value not in self._values:
            raise self.fail(f'{value} not in range(lower={self.lower}, '
                            f'upper={self.upper}, step={self.step})')
        return value

    def to_config(self) -> dict:
        return dict(type='Int', lower=self.lower, upper=self.upper,
                    step=self.step, default=self._default)

    @property
    def default(self) -> int:
        return self._default

    @property
    def min(self) -> int:
        return self._values[0]

    @property
    def max(self) -> int:
        return self._values[-1]
