"""Evolutionary search: mutate and recombine the best configurations."""
import random as _random
from typing import Any, Dict, List, Optional, Tuple

from ...errors import ConfigError
from ...space.codec import GeneCodec, params_key
from ...utils.checks import check_int, check_prob
from ..registry import SEARCHERS
from .base import Params
from .genes import LoggedSearcher, base_seed, derived_seed

UNIQUE_TRIES = 50
LOCAL_SHARE = 0.5   # share of ordinal mutations that step to a neighbour


@SEARCHERS.register('evolution')
class EvolutionSearcher(LoggedSearcher):
    """Steady-state evolution with an elitist parent pool.

    Config keys (defaults in brackets):

    - ``population_size`` (32): random configurations handed out before
      evolution starts (running trials count).
    - ``top_k`` (``population_size // 4``, at least 2): the parents are the
      ``top_k`` best successful trials seen so far; failed trials never
      become parents.
    - ``mutate_prob`` (0.15): chance that each gene of a mutated child
      changes (at least one always does, when any can).
    - ``crossover_prob`` (0.5): share of children made by uniform crossover
      of two parents; the others are mutants of one parent.
    - ``seed``, ``optimize_mode``.

    A gene is one searchable value (or the option chosen by a ``Nested``
    space). A changed gene takes a new value: a ``Categorical``, ``File`` or
    ``Nested`` gene a different value drawn uniformly; a ``Real`` or ``Int``
    gene half of the time a uniform sample, half of the time a step to a
    neighbour (Gaussian, 10% of its (log) range wide). A child that equals an
    already-tried configuration is drawn again (up to 50 times, then
    accepted). Each suggestion depends only on the seed, the number of
    trials handed out and the results observed, so a resumed task carries on
    with the same population.
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None, population_size: int = 32,
                 top_k: Optional[int] = None, mutate_prob: float = 0.15,
                 crossover_prob: float = 0.5):
        super().__init__(space, optimize_mode, seed)
        self.population_size = check_int(population_size,
                                         'searcher.population_size', 2)
        if top_k is None:
            top_k = max(2, self.population_size // 4)
        self.top_k = check_int(top_k, 'searcher.top_k', 1)
        if self.top_k > self.population_size:
            raise ConfigError(f'searcher.top_k: expected at most '
                              f'population_size ({self.population_size}), '
                              f'found {top_k}')
        self.mutate_prob = check_prob(mutate_prob, 'searcher.mutate_prob')
        self.crossover_prob = check_prob(crossover_prob,
                                         'searcher.crossover_prob')
        self._seed = base_seed(seed)
        self.codec = GeneCodec(space)

    # -- the interface -------------------------------------------------------
    def suggest(self) -> Optional[Params]:
        rng = _random.Random(derived_seed(self._seed, 'evolution',
                                          self.log.handed))
        parents = [vector for vector, _ in self.parents()]
        evolve = self.log.handed >= self.population_size and parents
        params: Any = None
        for _ in range(UNIQUE_TRIES):
            if not evolve:
                child = self.codec.random(rng)
            elif len(parents) >= 2 and rng.random() < self.crossover_prob:
                a, b = rng.sample(parents, 2)
                child = self.crossover(a, b, rng)
            else:
                child = self.mutate(rng.choice(parents), rng)
            params = self.codec.decode(child)
            if params_key(params) not in self.log.seen:
                break
        self.log.issue(params)
        return params

    # -- evolution -----------------------------------------------------------
    def parents(self) -> List[Tuple[List[Any], float]]:
        """The parent pool: ``(vector, utility)`` of the ``top_k`` best
        successful trials, best first (earlier trials win ties)."""
        scored = []
        for order, (params, reward) in enumerate(self.log.results):
            if reward is None:
                continue
            vector = self.codec.encode(params)
            if vector is not None:
                scored.append((-self.utility(reward), order, vector))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [(vector, -neg) for neg, _, vector in scored[:self.top_k]]

    def mutate(self, parent: List[Any], rng: _random.Random) -> List[Any]:
        """A copy of ``parent`` with each active gene changed with
        probability ``mutate_prob`` (at least one, when any can change);
        see :meth:`gml.space.codec.GeneCodec.mutate`."""
        return self.codec.mutate(parent, rng, self.mutate_prob,
                                 at_least_one=True, local_share=LOCAL_SHARE)

    def crossover(self, a: List[Any], b: List[Any],
                  rng: _random.Random) -> List[Any]:
        """Uniform crossover of ``a`` and ``b``; see
        :meth:`gml.space.codec.GeneCodec.crossover`."""
        return self.codec.crossover(a, b, rng)
