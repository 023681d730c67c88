"""Evolution search over the subnets of a trained supernet.

Pure Python (no torch): the caller supplies ``score_fn(config)`` (higher is
better, e.g. top-1 after BN recalibration) and ``cost_fn(config)`` (e.g.
MFLOPs). Configurations are encoded as flat gene vectors by
:class:`~gml.space.codec.GeneCodec`, whose mutation and crossover HPO's
evolution searcher uses as well.

One generation:

1. (first generation only) fill the pool with random subnets inside the
   cost range;
2. score every new candidate once (scores are cached by canonical key);
3. new top-k = best of (candidates ∪ old top-k); in Pareto mode the best
   subnet of every cost bucket comes first, then the best of the rest;
4. mutation: a random top-k member with each gene resampled to a different
   value with probability ``mutate_prob``;
5. crossover: each gene from one of two top-k parents with probability 0.5
   (uniform crossover);
6. random subnets fill the pool up to ``candidate_pool_size``.

Every constrained draw is capped (``max_retries_factor`` draws per wanted
subnet), so an infeasible cost range fails with a clear error instead of
hanging. :meth:`SubnetEvolution.state_dict` is JSON-serialisable; saving it
after each generation and loading it into a fresh searcher continues the
search exactly as an uninterrupted run would.
"""
import math
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ...errors import ConfigError
from ...space import has_spaces, map_spaces
from ...space.codec import GeneCodec, Vector, params_key
from ...utils.checks import check_bool, check_int, check_number, check_prob

STATE_VERSION = 1


def _check_constraints(value: Any, key: str) -> Optional[Tuple[float, float]]:
    """``None`` or ``(lo, hi)``; a ``None`` bound is open."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) \
            or len(value) != 2:
        raise ConfigError(f'{key}: expected (lo, hi) or None, found '
                          f'{value!r}')
    lo = -math.inf if value[0] is None else \
        check_number(value[0], key, finite=True)
    hi = math.inf if value[1] is None else \
        check_number(value[1], key, finite=True)
    if lo > hi:
        raise ConfigError(f'{key}: lower bound {lo:g} is above upper bound '
                          f'{hi:g}')
    return lo, hi


def _finite(value: Any, what: str, config: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f'{what} returned {value!r} for {config!r}; '
                         'expected a finite number')
    return number


def _rng_to_json(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from_json(state: list) -> tuple:
    return (state[0], tuple(state[1]), state[2])


class SubnetEvolution:
    """Evolution search over a subnet config space under a cost range.

    Args:
        space: a tree of gml spaces (the subnet config space).
        score_fn: ``config -> float``, higher is better; called once per
            distinct subnet.
        cost_fn: ``config -> float`` (e.g. MFLOPs); may be None only without
            ``constraints`` and ``pareto``.
        candidate_pool_size: subnets per generation.
        top_k: size of the elite kept across generations.
        num_mutation / num_crossover: children bred per generation.
        mutate_prob: chance that each gene of a mutant changes.
        max_generations: generations to run.
        constraints: ``(lo, hi)`` inclusive cost range, or None.
        pareto: keep the best subnet of every ``pareto_step``-wide cost
            bucket in the top-k, and return the best per bucket.
        pareto_step: bucket width in cost units (25 MFLOPs).
        seed: seed of the search's random generator.
        max_retries_factor: constrained draws allowed per wanted subnet.
        max_evaluations: stop once this many distinct subnets are scored
            (None: no limit).

    Children that repeat an already-scored subnet are redrawn (within the
    same capped budget) so evaluations go to new subnets.
    """

    def __init__(self, space: Any, score_fn: Callable[[Any], float],
                 cost_fn: Optional[Callable[[Any], float]] = None,
                 candidate_pool_size: int = 256, top_k: int = 128,
                 num_mutation: int = 128, num_crossover: int = 128,
                 mutate_prob: float = 0.2, max_generations: int = 20,
                 constraints: Optional[Sequence[Optional[float]]] = None,
                 pareto: bool = False, pareto_step: float = 25.0,
                 seed: int = 0, max_retries_factor: int = 10,
                 max_evaluations: Optional[int] = None):
        if not has_spaces(space):
            raise ConfigError('search.space: expected a tree with at least '
                              f'one search space, found {space!r}')
        if not callable(score_fn):
            raise ConfigError(f'search.score_fn: expected a callable, found '
                              f'{score_fn!r}')
        self.candidate_pool_size = check_int(
            candidate_pool_size, 'search.candidate_pool_size', 1)
        self.top_k = check_int(top_k, 'search.top_k', 1)
        self.num_mutation = check_int(num_mutation, 'search.num_mutation', 0)
        self.num_crossover = check_int(num_crossover,
                                       'search.num_crossover', 0)
        self.mutate_prob = check_prob(mutate_prob, 'search.mutate_prob')
        self.max_generations = check_int(max_generations,
                                         'search.max_generations', 1)
        self.constraints = _check_constraints(constraints,
                                              'search.constraints')
        self.pareto = check_bool(pareto, 'search.pareto')
        self.pareto_step = check_number(pareto_step, 'search.pareto_step', 0,
                                        strict=True, finite=True)
        self.seed = check_int(seed, 'search.seed', -2**63)
        self.max_retries_factor = check_int(
            max_retries_factor, 'search.max_retries_factor', 1)
        self.max_evaluations = None if max_evaluations is None else \
            check_int(max_evaluations, 'search.max_evaluations', 1)
        if cost_fn is None and (self.constraints is not None or pareto):
            raise ConfigError('search.cost_fn: a cost function is required '
                              'with constraints or pareto mode')
        if cost_fn is not None and not callable(cost_fn):
            raise ConfigError(f'search.cost_fn: expected a callable, found '
                              f'{cost_fn!r}')
        self.space = space
        self.score_fn = score_fn
        self.cost_fn = cost_fn
        self.codec = GeneCodec(space)
        self.rng = random.Random(self.seed)
        self.generation = 0
        self.candidates: List[Vector] = []
        self.top: List[Vector] = []
        self.archive: List[Tuple[Vector, float]] = []  # evaluation order
        self.history: List[float] = []
        self._index: Dict[str, int] = {}   # canonical key -> archive position
        self._costs: Dict[str, float] = {}

    # -- encoding helpers --------------------------------------------------
    def decode(self, vector: Vector) -> Any:
        return self.codec.decode(vector)

    def key(self, vector: Vector) -> str:
        """Canonical key of the subnet a gene vector stands for."""
        return params_key(self.decode(vector))

    def cost(self, vector: Vector) -> float:
        key = self.key(vector)
        if key not in self._costs:
            config = self.decode(vector)
            self._costs[key] = _finite(self.cost_fn(config), 'cost_fn',
                                       config)
        return self._costs[key]

    def feasible(self, vector: Vector) -> bool:
        if self.constraints is None:
            return True
        lo, hi = self.constraints
        return lo <= self.cost(vector) <= hi

    def score_of(self, vector: Vector) -> float:
        return self.archive[self._index[self.key(vector)]][1]

    @property
    def evaluations(self) -> int:
        """Distinct subnets scored so far."""
        return len(self.archive)

    @property
    def done(self) -> bool:
        return self.generation >= self.max_generations or \
            self._budget_spent()

    def unscored(self) -> int:
        """How many subnets the next :meth:`step` scores (after
        :meth:`start`): the new candidates, within ``max_evaluations``."""
        new = len({self.key(v) for v in self.candidates} - set(self._index))
        if self.max_evaluations is not None:
            new = min(new, max(0, self.max_evaluations - self.evaluations))
        return 0 if self.done else new

    def _budget_spent(self) -> bool:
        return self.max_evaluations is not None and \
            self.evaluations >= self.max_evaluations

    # -- genetic operators (unconstrained) -----------------------------------
    def _mutate_vector(self, parent: Vector) -> Vector:
        return self.codec.mutate(parent, self.rng, self.mutate_prob)

    def _crossover_vectors(self, a: Vector, b: Vector) -> Vector:
        return self.codec.crossover(a, b, self.rng)

    def _encode(self, config: Any) -> Vector:
        vector = self.codec.encode(config)
        if vector is None:
            raise ConfigError(f'search.space: {config!r} is not a subnet of '
                              'the space')
        return vector

    def mutate(self, config: Any) -> Any:
        """A mutant of ``config`` (no constraint check)."""
        return self.decode(self._mutate_vector(self._encode(config)))

    def crossover(self, a: Any, b: Any) -> Any:
        """A uniform crossover child of ``a`` and ``b`` (no constraint
        check)."""
        return self.decode(self._crossover_vectors(self._encode(a),
                                                   self._encode(b)))

    # -- constrained drawing -----------------------------------------------
    def _draw(self, make: Callable[[], Vector], taken: set) -> \
            Optional[Vector]:
        """A feasible vector not yet scored or taken, within the cap.

        Falls back to a feasible repeat when no new one turns up; None when
        nothing feasible does.
        """
        fallback = None
        for _ in range(self.max_retries_factor):
            vector = make()
            if not self.feasible(vector):
                continue
            key = self.key(vector)
            if key not in taken and key not in self._index:
                return vector
            if fallback is None:
                fallback = vector
        return fallback

    def _extend(self, out: List[Vector], taken: set, count: int,
                make: Callable[[], Vector]) -> None:
        for _ in range(count):
            vector = self._draw(make, taken)
            if vector is None:
                continue
            key = self.key(vector)
            if key not in taken:  # a batch holds each subnet once
                taken.add(key)
                out.append(vector)

    def _span(self, tried: List[Vector]) -> Tuple[float, float]:
        """Cost range seen at the min/max configs and the tried subnets."""
        costs = [self.cost(v) for v in tried]
        for pick in (lambda s: s.min, lambda s: s.max):
            vector = self.codec.encode(map_spaces(self.space, pick))
            if vector is not None:
                costs.append(self.cost(vector))
        return min(costs), max(costs)

    def _initial_pool(self) -> List[Vector]:
        n = self.candidate_pool_size
        budget = self.max_retries_factor * n
        pool: List[Vector] = []
        taken: set = set()
        tried: List[Vector] = []
        for _ in range(budget):
            if len(pool) >= n:
                break
            vector = self.codec.random(self.rng)
            if len(tried) < 1000:
                tried.append(vector)
            if not self.feasible(vector):
                continue
            key = self.key(vector)
            if key not in taken:
                taken.add(key)
                pool.append(vector)
        if not pool:
            lo, hi = self.constraints  # type: ignore[misc]
            span_lo, span_hi = self._span(tried)
            raise ConfigError(
                f'search.constraints: no subnet satisfies the FLOPs range '
                f'[{lo:g}, {hi:g}] after {budget} tries; the space spans '
                f'[{span_lo:g}, {span_hi:g}]')
        return pool

    def _breed(self) -> List[Vector]:
        out: List[Vector] = []
        taken: set = set()
        top = self.top
        self._extend(out, taken, self.num_mutation,
                     lambda: self._mutate_vector(self.rng.choice(top)))
        if len(top) > 1:
            pair = lambda: self.rng.sample(top, 2)  # noqa: E731
        else:
            pair = lambda: [top[0], top[0]]  # noqa: E731
        self._extend(out, taken, self.num_crossover,
                     lambda: self._crossover_vectors(*pair()))
        missing = self.candidate_pool_size - len(out)
        if missing > 0:
            self._extend(out, taken, missing,
                         lambda: self.codec.random(self.rng))
        return out

    # -- selection -----------------------------------------------------------
    def _order(self, vectors: List[Vector]) -> List[Vector]:
        """Best first; ties by lower cost, then by key (deterministic)."""
        def rank(v: Vector) -> tuple:
            cost = self.cost(v) if self.cost_fn is not None else 0.0
            return (-self.score_of(v), cost, self.key(v))
        return sorted(vectors, key=rank)

    def _bucket(self, vector: Vector) -> int:
        return math.floor(self.cost(vector) / self.pareto_step)

    def _select(self, vectors: List[Vector]) -> List[Vector]:
        ranked = self._order(vectors)
        if not self.pareto:
            return ranked[:self.top_k]
        winners, rest, seen = [], [], set()
        for vector in ranked:
            bucket = self._bucket(vector)
            (rest if bucket in seen else winners).append(vector)
            seen.add(bucket)
        chosen = winners[:self.top_k]
        return self._order(chosen + rest[:self.top_k - len(chosen)])

    # -- the loop ---------------------------------------------------------
    def _score(self, vector: Vector) -> None:
        key = self.key(vector)
        if key in self._index:
            return
        config = self.decode(vector)
        score = _finite(self.score_fn(config), 'score_fn', config)
        self._index[key] = len(self.archive)
        self.archive.append((list(vector), score))

    def start(self) -> None:
        """Draw the next candidates if there are none: the random first
        pool, or children of the top-k (after resuming a finished search
        with more generations). :meth:`step` calls it; calling it first
        makes an infeasible cost range fail before anything is scored."""
        if not self.candidates:
            self.candidates = self._breed() if self.top else \
                self._initial_pool()

    def step(self) -> None:
        """Run one generation (score, select, breed)."""
        if self.done:
            return
        self.start()
        scored = []
        for vector in self.candidates:
            if self.key(vector) not in self._index and self._budget_spent():
                continue
            self._score(vector)
            scored.append(vector)
        merged: Dict[str, Vector] = {}
        for vector in self.top + scored:
            merged.setdefault(self.key(vector), vector)
        self.top = self._select(list(merged.values()))
        self.history.append(self.score_of(self.top[0]))
        self.generation += 1
        self.candidates = [] if self.done else self._breed()

    def run(self, on_generation: Optional[Callable[['SubnetEvolution'],
                                                   None]] = None) -> Any:
        """Search to the end; return :meth:`result`.

        ``on_generation(self)`` is called after every generation (save
        ``state_dict()`` there to be able to resume).
        """
        while not self.done:
            self.step()
            if on_generation is not None:
                on_generation(self)
        return self.result()

    # -- results -----------------------------------------------------------
    @property
    def best(self) -> Dict[str, Any]:
        """The best subnet so far: ``config``, ``score``, ``cost``,
        ``evaluation`` (1-based index of its scoring)."""
        if not self.top:
            raise RuntimeError('no subnet has been scored yet')
        vector = self.top[0]
        return dict(config=self.decode(vector), score=self.score_of(vector),
                    cost=self.cost(vector) if self.cost_fn else None,
                    evaluation=self._index[self.key(vector)] + 1)

    def pareto_front(self) -> List[Dict[str, Any]]:
        """The best scored subnet of every cost bucket, by cost."""
        best: Dict[int, Vector] = {}
        for vector in self._order([v for v, _ in self.archive
                                   if self.feasible(v)]):
            best.setdefault(self._bucket(vector), vector)
        return [dict(config=self.decode(v), score=self.score_of(v),
                     cost=self.cost(v))
                for _, v in sorted(best.items())]

    def result(self) -> Any:
        """The best config, or in Pareto mode the best config per bucket."""
        if self.pareto:
            return [entry['config'] for entry in self.pareto_front()]
        return self.best['config']

    # -- resume -----------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to resume (JSON-serialisable)."""
        return dict(version=STATE_VERSION, num_genes=len(self.codec),
                    generation=self.generation,
                    candidates=[list(v) for v in self.candidates],
                    top_k=[list(v) for v in self.top],
                    archive=[[list(v), s] for v, s in self.archive],
                    history=list(self.history),
                    rng=_rng_to_json(self.rng))

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a search over this space."""
        missing = [k for k in ('version', 'num_genes', 'generation',
                               'candidates', 'top_k', 'archive', 'history',
                               'rng') if k not in state]
        if missing:
            raise ConfigError(f'search.resume: state lacks {missing}')
        if state['version'] != STATE_VERSION or \
                state['num_genes'] != len(self.codec):
            raise ConfigError(
                f'search.resume: state is for {state["num_genes"]} genes '
                f'(version {state["version"]}); this space has '
                f'{len(self.codec)} genes (version {STATE_VERSION})')
        self.generation = int(state['generation'])
        self.candidates = [list(v) for v in state['candidates']]
        self.top = [list(v) for v in state['top_k']]
        self.archive = [(list(v), float(s)) for v, s in state['archive']]
        self.history = [float(s) for s in state['history']]
        self._index = {self.key(v): i for i, (v, _) in
                       enumerate(self.archive)}
        self.rng.setstate(_rng_from_json(state['rng']))


def random_subnet_search(space: Any, score_fn: Callable[[Any], float],
                         cost_fn: Optional[Callable[[Any], float]],
                         num_evaluations: int,
                         constraints: Optional[Sequence] = None,
                         seed: int = 0, max_retries_factor: int = 10
                         ) -> Dict[str, Any]:
    """Baseline: score ``num_evaluations`` distinct random feasible subnets.

    Returns ``config``, ``score``, ``evaluation`` (when the best was found)
    and ``evaluations``. Draws are capped at ``max_retries_factor`` per
    wanted subnet.
    """
    searcher = SubnetEvolution(space, score_fn, cost_fn,
                               constraints=constraints, seed=seed,
                               max_retries_factor=max_retries_factor)
    check_int(num_evaluations, 'search.num_evaluations', 1)
    rng = searcher.rng
    best: Optional[Tuple[float, int, Vector]] = None
    for _ in range(max_retries_factor * num_evaluations):
        if searcher.evaluations >= num_evaluations:
            break
        vector = searcher.codec.random(rng)
        if not searcher.feasible(vector) or \
                searcher.key(vector) in searcher._index:
            continue
        searcher._score(vector)
        score = searcher.archive[-1][1]
        if best is None or score > best[0]:
            best = (score, searcher.evaluations, vector)
    if best is None:
        raise ConfigError('search.constraints: random search found no '
                          f'subnet in the range {constraints!r}')
    return dict(config=searcher.decode(best[2]), score=best[0],
                evaluation=best[1], evaluations=searcher.evaluations)
