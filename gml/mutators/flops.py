"""Sampling subnets evenly over a FLOPs range (AttentiveNAS-style)."""
import math
from typing import Any, Dict, Optional, Sequence

from ..errors import ConfigError
from ..registry import MODELS
from ..space import sample_of
from ..utils.checks import check_int, is_number
from .stateless import StatelessMutator


@MODELS.register_module()
class FlopsMutator(StatelessMutator):
    """Random subnets spread evenly over FLOPs instead of over genes.

    Uniform draws over the genes cluster around the middle of the FLOPs
    span; this mutator first picks one of ``num_buckets`` equal-width FLOPs
    buckets of ``flops_range`` at random, then draws up to ``max_tries``
    random subnets and returns the first one inside that bucket. Every
    counted draw is remembered in its bucket (up to ``bucket_memory``
    subnets each), so a bucket that random draws rarely reach is served
    from earlier draws that landed in it; a bucket never reached yet gets
    the draw closest to its centre. ``'max'`` and ``'min'`` are the space's
    largest and smallest subnets, as for :class:`StatelessMutator` (the
    sandwich rule always trains them).

    Args:
        flops_range: ``(lo, hi)`` in ``units`` (ends included; a ``None``
            end is open), or None for the whole span of the supernet.
        num_buckets: FLOPs buckets drawn from.
        max_tries: random draws per sample.
        bucket_memory: subnets remembered per bucket.
        units: ``'M'`` or ``'G'`` (FLOPs = multiply-accumulates).
        input_shape: the input counted at, e.g. ``(1, 3, 224, 224)``.
        seed: seeds the draws.

    A range no subnet falls in is a ConfigError when the algorithm is
    built. Counting a subnet runs a forward pass at ``input_shape``
    (cached per subnet); sampling changes the model's active subnet.
    """

    def __init__(self, flops_range: Optional[Sequence] = None,
                 num_buckets: int = 10, max_tries: int = 50,
                 bucket_memory: int = 64, units: str = 'M',
                 input_shape: Sequence[int] = (1, 3, 224, 224),
                 seed: Optional[int] = None):
        super().__init__(seed)
        from ..evaluators import NaiveEvaluator
        self.evaluator = NaiveEvaluator(units=units, default_shape=input_shape)
        self.num_buckets = check_int(num_buckets, 'mutator.num_buckets', 1)
        self.max_tries = check_int(max_tries, 'mutator.max_tries', 1)
        self.bucket_memory = check_int(bucket_memory,
                                       'mutator.bucket_memory', 1)
        self.memory = [[] for _ in range(self.num_buckets)]
        self.seen = [0] * self.num_buckets
        self.requested = self._check_range(flops_range)
        self.cost = None
        self.lo = self.hi = math.nan

    @staticmethod
    def _check_range(value):
        if value is None:
            return None
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
            v is None or (is_number(v) and math.isfinite(v))
            for v in value)
        if not ok or (None not in value and value[0] > value[1]):
            raise ConfigError(f'mutator.flops_range: expected (lo, hi) with '
                              f'lo <= hi (None for an open end), found '
                              f'{value!r}')
        return tuple(value)

    def prepare(self, model) -> None:
        """Read the space, count its extremes and check the range."""
        super().prepare(model)
        from ..evaluators.subnet_cost import SubnetCost
        self.cost = SubnetCost(model, self.evaluator)
        smallest = self.cost.flops(self.sample('min'))
        largest = self.cost.flops(self.sample('max'))
        lo, hi = self.requested or (None, None)
        self.lo = smallest if lo is None else max(float(lo), smallest)
        self.hi = largest if hi is None else min(float(hi), largest)
        units = self.cost.units
        span = f'[{smallest:.4g}, {largest:.4g}] {units}FLOPs'
        if self.lo > self.hi:
            raise ConfigError(f'mutator.flops_range: {self.requested!r} '
                              f'{units}FLOPs holds no subnet: the subnets '
                              f'of this supernet span {span}')
        for extreme in (smallest, largest):
            bucket = self._bucket(extreme)
            if bucket >= 0:
                self._remember(bucket, self.sample(
                    'min' if extreme == smallest else 'max'))
        if not any(self.memory):
            if self._draw(None, self.max_tries * 4) is None:
                raise ConfigError(
                    f'mutator.flops_range: no subnet found in '
                    f'{self.requested!r} {units}FLOPs after '
                    f'{self.max_tries * 4} random draws (the supernet spans '
                    f'{span}); widen the range')

    def _bucket(self, flops: float) -> int:
        """The bucket of ``flops``, or -1 outside the range."""
        if not self.lo <= flops <= self.hi:
            return -1
        if self.hi == self.lo:
            return 0
        width = (self.hi - self.lo) / self.num_buckets
        return min(int((flops - self.lo) / width), self.num_buckets - 1)

    def _remember(self, bucket: int, config: dict) -> None:
        """Reservoir sampling: each bucket keeps a uniform sample of the
        draws that landed in it."""
        self.seen[bucket] += 1
        slots = self.memory[bucket]
        if len(slots) < self.bucket_memory:
            slots.append(config)
        else:
            index = self.rng.randrange(self.seen[bucket])
            if index < self.bucket_memory:
                slots[index] = config

    def _draw(self, target: Optional[int], tries: int) -> Optional[dict]:
        """Up to ``tries`` random draws: the first in bucket ``target``
        (any bucket when None); else a remembered subnet of ``target``;
        else the in-range draw closest to ``target``; else None."""
        width = (self.hi - self.lo) / self.num_buckets
        centre = self.lo + ((target or 0) + 0.5) * width
        fallback, distance = None, math.inf
        for _ in range(tries):
            config = sample_of(self.space, self.rng)
            flops = self.cost.flops(config)
            bucket = self._bucket(flops)
            if bucket < 0:
                continue
            self._remember(bucket, config)
            if target is None or bucket == target:
                return config
            if abs(flops - centre) < distance:
                fallback, distance = config, abs(flops - centre)
        if target is not None and self.memory[target]:
            return self.rng.choice(self.memory[target])
        return fallback

    def sample(self, kind: str = 'random') -> Dict[str, Any]:
        """``'max'``, ``'min'``, or a random subnet from a random bucket."""
        if kind != 'random' or self.cost is None:
            return super().sample(kind)
        config = self._draw(self.rng.randrange(self.num_buckets),
                            self.max_tries)
        if config is None:
            raise RuntimeError(
                f'FlopsMutator: {self.max_tries} random draws fell outside '
                f'[{self.lo:.4g}, {self.hi:.4g}] {self.cost.units}FLOPs; '
                'raise mutator.max_tries or widen mutator.flops_range')
        return config
