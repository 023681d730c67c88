"""Evolutionary search: regularised (aging) evolution sized to the budget."""
import random as _random
from collections import defaultdict, deque
from typing import Any, Deque, Dict, List, Optional, Tuple

from ...errors import ConfigError
from ...space.codec import GeneCodec, params_key
from ...utils.checks import check_int, check_number, check_prob
from ..registry import SEARCHERS
from .base import Params
from .genes import LoggedSearcher, base_seed, derived_seed

UNIQUE_TRIES = 50
#: population when neither ``population_size`` nor a budget is known
DEFAULT_POPULATION = 16
#: the budget-derived population: budget / POPULATION_SHARE, clamped
POPULATION_SHARE = 5
MIN_POPULATION, MAX_POPULATION = 8, 64
#: the default tournament: population / TOURNAMENT_SHARE, at least 2
TOURNAMENT_SHARE = 2
LOCAL_SHARE = 0.9   # share of ordinal mutations that step to a neighbour
LOCAL_WIDTH = 0.1   # neighbour step of a number: this share of its range


def default_population(budget: Optional[int]) -> int:
    """The population used when ``population_size`` is not configured:
    ``budget // 5`` clamped to 8..64, or 16 without a budget."""
    if budget is None:
        return DEFAULT_POPULATION
    return max(MIN_POPULATION, min(MAX_POPULATION,
                                   budget // POPULATION_SHARE))


def default_tournament(population: int) -> int:
    """The tournament used when ``tournament_size`` is not configured."""
    return max(2, min(population, round(population / TOURNAMENT_SHARE)))


@SEARCHERS.register('evolution')
class EvolutionSearcher(LoggedSearcher):
    """Regularised (aging) evolution, Real et al. 2019, sized to the budget.

    The first ``population_size`` trials are random configurations. After
    that each trial is a mutant of a tournament winner: ``tournament_size``
    members are drawn (without replacement) from the population, the best
    of them is mutated. The population is the ``population_size`` most
    recently handed out trials that succeeded, so every member ages out in
    turn (the oldest dies when a child joins) and no lucky early result
    blocks the search. Failed trials never join.

    Config keys (defaults in brackets):

    - ``population_size`` (``budget // 5`` clamped to 8..64; 16 without a
      budget): random trials before evolution starts (running trials
      count), and the population kept afterwards. At ``max_tries: 50`` it
      is 10.
    - ``tournament_size`` (``population_size / 2`` rounded, at least 2):
      members drawn per tournament; larger is greedier. ``top_k`` is the
      older name of this key and is accepted for it.
    - ``budget`` (the task's ``stop_criterion.max_tries``, which the
      controller passes in): the number of trials the search will run; it
      only sets the default population.
    - ``mutate_prob`` (0.4): chance that each value of a mutant changes (at
      least one always does, when any can).
    - ``local_share`` (0.9) and ``local_width`` (0.1): a changed number
      (``Real``, or ``Int`` with more than two values) steps to a neighbour
      with probability ``local_share`` (Gaussian, ``local_width`` of its
      range wide, in log space when ``log``, reflected at the bounds), else
      it is resampled uniformly; a changed ``Categorical``, ``File`` or
      ``Nested`` value takes another value uniformly.
    - ``crossover_prob`` (0): share of children made by uniform crossover of
      the winners of two tournaments instead of a mutant.
    - ``seed``, ``optimize_mode``.

    A child that equals an already-tried configuration is drawn again (up to
    50 times, then accepted). Suggestion *i* depends only on the seed, *i*
    and the results observed; members are ordered by when they were handed
    out, which the resume replay (trial order) restores, so a resumed task
    carries on with the same population.
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None,
                 population_size: Optional[int] = None,
                 tournament_size: Optional[int] = None,
                 budget: Optional[int] = None,
                 mutate_prob: float = 0.4,
                 local_share: float = LOCAL_SHARE,
                 local_width: float = LOCAL_WIDTH,
                 crossover_prob: float = 0.0,
                 top_k: Optional[int] = None):
        super().__init__(space, optimize_mode, seed)
        if budget is not None:
            budget = check_int(budget, 'searcher.budget', 1)
        self.budget = budget
        if population_size is None:
            population_size = default_population(budget)
        self.population_size = check_int(population_size,
                                         'searcher.population_size', 2)
        if tournament_size is not None and top_k is not None:
            raise ConfigError('searcher: tournament_size and top_k are the '
                              'same key (top_k is its older name); give one')
        key = 'searcher.top_k' if top_k is not None else \
            'searcher.tournament_size'
        if tournament_size is None:
            tournament_size = top_k
        if tournament_size is None:
            tournament_size = default_tournament(self.population_size)
        self.tournament_size = check_int(tournament_size, key, 1)
        if self.tournament_size > self.population_size:
            raise ConfigError(f'{key}: expected at most population_size '
                              f'({self.population_size}), found '
                              f'{tournament_size}')
        self.mutate_prob = check_prob(mutate_prob, 'searcher.mutate_prob')
        self.local_share = check_prob(local_share, 'searcher.local_share')
        self.local_width = check_number(local_width, 'searcher.local_width',
                                        0, 1, strict=True)
        self.crossover_prob = check_prob(crossover_prob,
                                         'searcher.crossover_prob')
        self._seed = base_seed(seed)
        self.codec = GeneCodec(space)
        # hand-out order of the trials still without a result, by params
        self._waiting: Dict[str, Deque[int]] = defaultdict(deque)
        # successful trials: (hand-out order, vector, utility)
        self._members: List[Tuple[int, List[Any], float]] = []

    # -- bookkeeping -----------------------------------------------------------
    def _hand_out(self, params: Params) -> None:
        self._waiting[params_key(params)].append(self.log.handed - 1)

    def mark_pending(self, params: Params) -> None:
        super().mark_pending(params)
        self._hand_out(params)

    def observe(self, params: Params, reward: Optional[float]) -> None:
        key = params_key(params)
        waiting = self._waiting.get(key)
        if waiting:
            order = waiting.popleft()
            if not waiting:
                del self._waiting[key]
        else:  # a finished trial replayed on resume: handed out now
            order = self.log.handed
        super().observe(params, reward)
        if reward is None:
            return
        vector = self.codec.encode(params)
        if vector is not None:
            self._members.append((order, vector, self.utility(reward)))

    # -- the interface -------------------------------------------------------
    def suggest(self) -> Optional[Params]:
        rng = _random.Random(derived_seed(self._seed, 'evolution',
                                          self.log.handed))
        population = self.population()
        evolve = self.log.handed >= self.population_size and population
        params: Any = None
        for _ in range(UNIQUE_TRIES):
            if not evolve:
                child = self.codec.random(rng)
            elif len(population) >= 2 and \
                    rng.random() < self.crossover_prob:
                a = self.tournament(population, rng)
                b = self.tournament(population, rng)
                child = self.crossover(a, b, rng)
            else:
                child = self.mutate(self.tournament(population, rng), rng)
            params = self.codec.decode(child)
            if params_key(params) not in self.log.seen:
                break
        self.log.issue(params)
        self._hand_out(params)
        return params

    # -- evolution -----------------------------------------------------------
    def population(self) -> List[Tuple[List[Any], float]]:
        """``(vector, utility)`` of the ``population_size`` successful trials
        handed out last, oldest first."""
        members = sorted(self._members, key=lambda m: m[0])
        return [(vector, utility) for _, vector, utility in
                members[-self.population_size:]]

    def tournament(self, population: List[Tuple[List[Any], float]],
                   rng: _random.Random) -> List[Any]:
        """The best of ``tournament_size`` members drawn without replacement
        (the younger one wins a tie)."""
        size = min(self.tournament_size, len(population))
        drawn = sorted(rng.sample(range(len(population)), size))
        best = max(drawn, key=lambda i: (population[i][1], i))
        return population[best][0]

    def mutate(self, parent: List[Any], rng: _random.Random) -> List[Any]:
        """A copy of ``parent`` with each active gene changed with
        probability ``mutate_prob`` (at least one, when any can change);
        see :meth:`gml.space.codec.GeneCodec.mutate`."""
        return self.codec.mutate(parent, rng, self.mutate_prob,
                                 at_least_one=True,
                                 local_share=self.local_share,
                                 local_width=self.local_width)

    def crossover(self, a: List[Any], b: List[Any],
                  rng: _random.Random) -> List[Any]:
        """Uniform crossover of ``a`` and ``b``; see
        :meth:`gml.space.codec.GeneCodec.crossover`."""
        return self.codec.crossover(a, b, rng)
