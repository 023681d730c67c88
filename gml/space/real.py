"""Real numbers in a closed interval, optionally on a log scale."""
import math
from typing import List, Optional

from ..utils.checks import is_number
from .base import (RandomLike, Space, as_rng, check_default, optional_int,
                   register_space)


@register_space
class Real(Space):
    """A float in ``[lower, upper]``.

    ``log=True`` samples uniformly in log space (``lower`` must be > 0).
    Grid search needs either ``step`` (lower, lower+step, ... <= upper; linear
    scale only) or ``count`` (that many points evenly spaced, in log space when
    ``log``). ``default`` is the (geometric, when ``log``) midpoint unless given.
    """

    def __init__(self, lower: float, upper: float, log: bool = False,
                 default: Optional[float] = None, step: Optional[float] = None,
                 count: Optional[int] = None, key: str = ''):
        super().__init__(key)
        for name, value in (('lower', lower), ('upper', upper)):
            if not is_number(value):
                raise self.fail(f'{name} must be a number, found {value!r}')
        self.lower, self.upper, self.log = float(lower), float(upper), bool(log)
        if self.lower >= self.upper:
            raise self.fail(f'lower {lower} must be < upper {upper}')
        if self.log and self.lower <= 0:
            raise self.fail(f'log scale needs lower > 0, found {lower}')
        if step is not None and count is not None:
            raise self.fail('give either step or count, not both')
        if step is not None:
            if self.log:
                raise self.fail('step is for linear scales; use count with '
                                'log=True')
            if not is_number(step) or step <= 0:
                raise self.fail(f'step must be a positive number, found '
                                f'{step!r}')
        self.step = step
        self.count = optional_int(self, 'count', count)
        if self.count is not None and self.count < 1:
            raise self.fail(f'count must be >= 1, found {count}')
        self._default = check_default(self, default, self._midpoint)

    def _midpoint(self) -> float:
        if self.log:
            return math.sqrt(self.lower * self.upper)
        return (self.lower + self.upper) / 2

    def grid(self) -> List[float]:
        if self.step is not None:
            n = int(math.floor((self.upper - self.lower) / self.step + 1e-9))
            return [self.lower + i * self.step for i in range(n + 1)]
        if self.count is not None:
            if self.count == 1:
                return [self._default]
            if self.log:
                lo, hi = math.log(self.lower), math.log(self.upper)
                return [math.exp(lo + (hi - lo) * i / (self.count - 1))
                        for i in range(self.count)]
            width = self.upper - self.lower
            return [self.lower + width * i / (self.count - 1)
                    for i in range(self.count)]
        raise self.fail('a Real space needs `step` or `count` to be '
                        'enumerated on a grid')

    def sample(self, seed: RandomLike = None) -> float:
        rng = as_rng(seed)
        if self.log:
            return math.exp(rng.uniform(math.log(self.lower),
                                        math.log(self.upper)))
        return rng.uniform(self.lower, self.upper)

    def validate(self, value) -> float:
        if not is_number(value):
            raise self.fail(f'{value!r} is not a number')
        if not self.lower <= value <= self.upper:
            raise self.fail(f'{value} outside [{self.lower}, {self.upper}]')
        return float(value)

    def to_config(self) -> dict:
        cfg = dict(type='Real', lower=self.lower, upper=self.upper,
                   log=self.log, default=self._default)
        if self.step is not None:
            cfg['step'] = self.step
        if self.count is not None:
            cfg['count'] = self.count
        return cfg

    @property
    def default(self) -> float:
        return self._default

    @property
    def min(self) -> float:
        return self.lower

    @property
    def max(self) -> float:
        return self.upper
