"""Trial bookkeeping shared by the searchers, and their seeds.

:class:`TrialLog` records what a searcher has handed out and learned, so the
resume replay (``observe`` / ``mark_pending`` in trial order) rebuilds the
same state an uninterrupted run has. The flat gene encoding the model-based
and evolutionary searchers work on, and the genetic operators, live next to
the spaces: :class:`gml.space.codec.GeneCodec`.
"""
import random
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

from ...space.codec import params_key
from ...utils.checks import check_seed
from .base import Searcher

Params = Dict[str, Any]


def derived_seed(seed: Any, *parts: Any) -> int:
    """A 63-bit integer seed that depends only on ``seed`` and ``parts``."""
    text = ':'.join(str(p) for p in (seed, ) + parts)
    return random.Random(text).getrandbits(63)


def base_seed(seed: Optional[int], key: str = 'searcher.seed') -> int:
    """The searcher's seed, or a fresh random one when none is configured."""
    seed = check_seed(seed, key)
    return random.SystemRandom().getrandbits(63) if seed is None else seed


class TrialLog:
    """Everything handed out and everything learned, in order.

    ``handed`` counts trials handed out so far (own suggestions plus trials
    replayed on resume); after a replay it equals the count an uninterrupted
    run had reached, which is what keeps seeded searchers reproducible.
    """

    def __init__(self) -> None:
        self.handed = 0
        self.results: List[Tuple[Params, Optional[float]]] = []
        self.pending: Counter = Counter()
        self.pending_params: Dict[str, Params] = {}
        self.seen: set = set()

    def issue(self, params: Params) -> None:
        """This searcher just suggested ``params``."""
        self._add_pending(params)

    def mark_pending(self, params: Params) -> None:
        """A replayed trial that has no result yet."""
        self._add_pending(params)

    def _add_pending(self, params: Params) -> None:
        key = params_key(params)
        self.handed += 1
        self.pending[key] += 1
        self.pending_params[key] = params
        self.seen.add(key)

    def observe(self, params: Params, reward: Optional[float]) -> None:
        key = params_key(params)
        if self.pending[key] > 0:
            self.pending[key] -= 1
            if not self.pending[key]:
                del self.pending[key]
                del self.pending_params[key]
        else:  # a finished trial replayed on resume
            self.handed += 1
        self.seen.add(key)
        self.results.append((params, reward))

    def pending_list(self) -> List[Params]:
        """Params of the trials still running (with multiplicity)."""
        return [self.pending_params[k] for k, n in self.pending.items()
                for _ in range(n)]

    def successes(self) -> List[Tuple[Params, float]]:
        return [(p, r) for p, r in self.results if r is not None]


class LoggedSearcher(Searcher):
    """A searcher whose whole state is a :class:`TrialLog`.

    ``observe`` and ``mark_pending`` record into ``self.log``, so replaying
    a task's trials on resume rebuilds the searcher exactly.
    """

    def __init__(self, space, optimize_mode: str = 'maximize',
                 seed: Optional[int] = None):
        super().__init__(space, optimize_mode, seed)
        self.log = TrialLog()

    def observe(self, params: Params, reward: Optional[float]) -> None:
        self.log.observe(params, reward)

    def mark_pending(self, params: Params) -> None:
        self.log.mark_pending(params)
