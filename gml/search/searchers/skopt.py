"""Bayesian optimization with scikit-optimize's ``Optimizer`` (ask / tell).

scikit-optimize (and scikit-learn) load only when a SkoptSearcher is built,
so the search commands start fast when another searcher is used.
"""
import random as _random
import warnings
from typing import Any, Dict, List, Optional

from ...errors import ConfigError
from ...space import Int
from ...space.codec import GeneCodec, params_key
from ...utils.checks import check_choice, check_int
from ..registry import SEARCHERS
from .base import Params
from .genes import LoggedSearcher, base_seed, derived_seed

ESTIMATORS = ('GP', 'RF', 'ET')
BROKEN_ESTIMATORS = ('GBRT', 'DUMMY')
ACQ_FUNCS = ('gp_hedge', 'EI', 'PI', 'LCB')
LIAR_STRATEGIES = ('cl_min', 'cl_mean', 'cl_max')
UNIQUE_TRIES = 100


@SEARCHERS.register('skopt')
class SkoptSearcher(LoggedSearcher):
    """Model-based search with a scikit-optimize surrogate.

    Config keys (defaults in brackets):

    - ``base_estimator`` (``GP``): ``GP`` (Gaussian process), ``RF`` (random
      forest) or ``ET`` (extra trees). ``GBRT`` and ``dummy`` are refused:
      scikit-optimize 0.10.2 cannot build them with scikit-learn >= 1.6.
    - ``n_initial_points`` (10): random trials handed out before the model
      proposes points.
    - ``acq_func`` (``gp_hedge``): ``gp_hedge``, ``EI``, ``PI`` or ``LCB``.
    - ``liar_strategy`` (``cl_min``): the constant lie told for trials still
      running when a new point is asked for: the best (``cl_min``), mean or
      worst (``cl_max``) objective observed so far.
    - ``seed``, ``optimize_mode``.

    Spaces: ``Real`` becomes a (log-)uniform real dimension; ``Int`` an
    integer dimension over the index of its values (so ``step`` holds);
    ``Categorical``, ``File`` and ``Nested`` categorical dimensions over the
    index of their values / options (the spaces inside every ``Nested``
    option get dimensions of their own, ignored while the option is not
    chosen). Spaces with a single value and fixed values pass through.

    A failed trial (reward None) is told as the worst objective seen so far,
    so the model steers away from it; until a trial succeeds the searcher
    samples at random.
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None, base_estimator: str = 'GP',
                 n_initial_points: int = 10, acq_func: str = 'gp_hedge',
                 liar_strategy: str = 'cl_min'):
        super().__init__(space, optimize_mode, seed)
        if isinstance(base_estimator, str) and \
                base_estimator.upper() in BROKEN_ESTIMATORS:
            raise ConfigError(
                f'searcher.base_estimator: {base_estimator!r} is broken in '
                'scikit-optimize 0.10.2 with scikit-learn >= 1.6 (and 1.8); '
                f'use one of {", ".join(ESTIMATORS)}')
        if isinstance(base_estimator, str):
            base_estimator = base_estimator.upper()
        self.base_estimator = check_choice(base_estimator,
                                           'searcher.base_estimator',
                                           ESTIMATORS)
        self.n_initial_points = check_int(n_initial_points,
                                          'searcher.n_initial_points', 1)
        self.acq_func = check_choice(acq_func, 'searcher.acq_func', ACQ_FUNCS)
        self.liar_strategy = check_choice(liar_strategy,
                                          'searcher.liar_strategy',
                                          LIAR_STRATEGIES)
        self._seed = base_seed(seed)
        self.codec = GeneCodec(space)
        self._positions = [i for i, g in enumerate(self.codec.genes)
                           if g.mutable]
        self._dimensions = self._build_dimensions()
        self._gains = None    # gp_hedge state carried between suggestions
        self._next_xs = None

    # -- the space ---------------------------------------------------------
    def _build_dimensions(self) -> List[Any]:
        from skopt.space import Categorical, Integer, Real
        dims: List[Any] = []
        for pos in self._positions:
            gene = self.codec.genes[pos]
            if gene.kind == 'real':
                prior = 'log-uniform' if gene.space.log else 'uniform'
                dims.append(Real(gene.space.lower, gene.space.upper,
                                 prior=prior))
            elif isinstance(gene.space, Int):
                dims.append(Integer(0, gene.size - 1))
            else:
                dims.append(Categorical(list(range(gene.size))))
        return dims

    def _to_point(self, vector: List[Any]) -> List[Any]:
        full = self.codec.filled(vector)
        return [full[pos] for pos in self._positions]

    def _from_point(self, point: List[Any]) -> Params:
        vector: List[Any] = [0] * len(self.codec)
        for pos, value in zip(self._positions, point):
            gene = self.codec.genes[pos]
            vector[pos] = float(value) if gene.kind == 'real' else int(value)
        flags = self.codec.active(vector)
        vector = [v if on else None for v, on in zip(vector, flags)]
        return self.codec.decode(vector)

    # -- the interface -------------------------------------------------------
    def suggest(self) -> Optional[Params]:
        index = self.log.handed
        rng = _random.Random(derived_seed(self._seed, 'skopt', index))
        params = None
        if self._positions and index >= self.n_initial_points:
            params = self._model_suggestion(rng)
        if params is None:
            params = self._random_suggestion(rng)
        self.log.issue(params)
        return params


    # -- internals -----------------------------------------------------------
    def _random_suggestion(self, rng: _random.Random) -> Params:
        params: Any = None
        for _ in range(UNIQUE_TRIES):
            params = self.codec.decode(self.codec.random(rng))
            if params_key(params) not in self.log.seen:
                break
        return params

    def _training_data(self):
        """(points, objectives) to tell: successes, failures as the worst
        objective, pending trials as the lie."""
        good, bad = [], []
        for params, reward in self.log.results:
            vector = self.codec.encode(params)
            if vector is None:  # from an older space: nothing to learn
                continue
            if reward is None:
                bad.append(self._to_point(vector))
            else:
                good.append((self._to_point(vector), -self.utility(reward)))
        if not good:
            return None
        ys = [y for _, y in good]
        worst = max(ys)
        lie = {'cl_min': min(ys), 'cl_mean': sum(ys) / len(ys),
               'cl_max': worst}[self.liar_strategy]
        points = [x for x, _ in good] + bad
        values = ys + [worst] * len(bad)
        for params in self.log.pending_list():
            vector = self.codec.encode(params)
            if vector is not None:
                points.append(self._to_point(vector))
                values.append(lie)
        return points, values

    def _model_suggestion(self, rng: _random.Random) -> Optional[Params]:
        import numpy as np
        from skopt import Optimizer
        data = self._training_data()
        if data is None:
            return None
        points, values = data
        opt = Optimizer(self._dimensions, base_estimator=self.base_estimator,
                        n_initial_points=0, acq_func=self.acq_func,
                        random_state=rng.getrandbits(31))
        if self.acq_func == 'gp_hedge' and self._gains is not None:
            opt.gains_ = np.array(self._gains)
            if self._next_xs is not None:
                opt.next_xs_ = [np.array(x) for x in self._next_xs]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            opt.tell(points, values)
            candidates = [opt.ask()]
        if self.acq_func == 'gp_hedge':
            self._gains = np.array(opt.gains_)
            self._next_xs = [np.array(x) for x in opt.next_xs_]
        for x in getattr(opt, 'next_xs_', []):
            candidates.append(opt.space.inverse_transform(
                np.asarray(x).reshape(1, -1))[0])
        for point in candidates:
            params = self._from_point(point)
            if params_key(params) not in self.log.seen:
                return params
        return None  # every model candidate was tried: sample at random
