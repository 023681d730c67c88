"""Tree-structured Parzen estimator: Optuna's ``TPESampler`` through ask/tell.

Why Optuna and not a TPE of our own or hyperopt: Optuna is maintained and
released often, its ``TPESampler`` is the TPE users compare gml with (the
benchmark in ``benchmarks/hpo_searchers.py`` runs both side by side), it
handles conditional (define-by-run) spaces with multivariate, grouped TPE
and a constant liar for trials still running, and its ask/tell interface
fits gml's controller, which owns the trial loop. hyperopt's TPE is
univariate, has no constant liar and drives the loop itself; writing TPE
by hand would mean re-deriving all of that and keeping it up to date.

Optuna is imported only when a :class:`TPESearcher` suggests or is built,
so ``import gml`` and ``search-ctl`` never load it.
"""
import collections
import contextlib
import math
import warnings
from typing import Any, Dict, List, Optional, Sequence

from ...errors import ConfigError
from ...space import Int
from ...space.codec import GeneCodec, params_key
from ...utils.checks import check_bool, check_int
from ..registry import SEARCHERS
from .base import Params
from .genes import LoggedSearcher, base_seed, derived_seed

UNIQUE_TRIES = 20   # asks per suggestion to avoid an already-tried point
RUNNING, COMPLETE, FAIL, PRUNED = 'running', 'complete', 'fail', 'pruned'


def _optuna():
    try:
        import optuna
    except ImportError:  # pragma: no cover - optuna is in install_requires
        raise ConfigError("searcher.type: TPESearcher needs optuna; install "
                          "it with pip install 'optuna>=3.6,<6'") from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna):
    """Optuna without its INFO lines (a study per suggestion) and its
    experimental-feature warnings (multivariate, group and constant_liar
    are experimental in Optuna 3)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                'ignore', optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter('ignore', FutureWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)


class _Record:
    """One trial as the study sees it: its Optuna params and state, and,
    for a trial stopped or paused short of its end, the utility of each of
    its steps (``steps``)."""

    __slots__ = ('params', 'state', 'value', 'steps')

    def __init__(self, params: Optional[Dict[str, Any]], state: str,
                 value: Optional[float] = None):
        self.params, self.state, self.value = params, state, value
        self.steps: Optional[List[float]] = None


@SEARCHERS.register('tpe')
class TPESearcher(LoggedSearcher):
    """Tree-structured Parzen estimator (Optuna's ``TPESampler``).

    Config keys (defaults in brackets):

    - ``n_startup_trials`` (10): trials sampled at random (seeded) before
      TPE models the results; only successful trials count.
    - ``multivariate`` (true): model the parameters jointly, not one by one.
    - ``group`` (true): with ``multivariate``, model each set of parameters
      that occur together (the options of a ``Nested`` space) on its own;
      needed for conditional spaces to be modelled jointly.
    - ``constant_liar`` (true): trials still running count as bad results,
      so parallel suggestions do not pile up on one point.
    - ``n_ei_candidates`` (24): candidates drawn per suggestion; the one with
      the best expected improvement ratio is proposed.
    - ``seed``, ``optimize_mode``.

    Optuna's other ``TPESampler`` arguments are left at Optuna's defaults:
    ``consider_prior``, ``prior_weight``, ``consider_endpoints`` and
    ``consider_magic_clip`` are deprecated since Optuna 4.3 / 4.9, and
    ``gamma`` / ``weights`` are functions, which a YAML config cannot hold.

    Spaces map to Optuna's define-by-run calls, in the space tree's order:
    ``Real`` to ``suggest_float`` (``log=True`` when ``log``; a ``step``
    meant for grids is ignored), ``Int`` to ``suggest_int`` with its
    ``step``, ``Categorical`` and ``File`` to ``suggest_categorical`` over
    the index of their values, and ``Nested`` to ``suggest_categorical``
    over the option index, followed by the spaces of the chosen option only,
    named by their path (``model.data[1].width``), so TPE sees the
    conditional structure. Spaces with one value and fixed values pass
    through.

    A failed trial (reward None or not finite) is told as ``FAIL``: TPE
    ignores it (it does not steer away from it). A trial an assessor
    stopped or paused short of its end (median stopping, ASHA, Hyperband)
    is told as ``PRUNED`` with its reward at every step: TPE ranks it below
    every complete trial, and pruned trials among themselves by how many
    steps they reached, then by their last value (Optuna's rule). Inside
    Hyperband or ASHA this makes TPE model what survived the most rungs
    (BOHB-style), not the noisy first-rung values of the many trials the
    first rung stopped. A paused trial that is promoted and completes
    becomes ``COMPLETE`` with its final reward.

    Resume: the searcher keeps the trials in hand-out order and builds a
    fresh in-memory study from them for every suggestion, with a sampler
    seeded by the seed and the number of trials handed out; the resume
    replay (``observe`` and ``observe_steps`` for ended trials,
    ``mark_pending`` for running ones, in trial order) rebuilds the same
    list, so a seeded task resumed at any point suggests exactly what the
    uninterrupted one would (a promoted trial still running on resume is
    told the steps it reported by then, which may be more than it had
    when it paused).
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None, n_startup_trials: int = 10,
                 multivariate: bool = True, group: bool = True,
                 constant_liar: bool = True, n_ei_candidates: int = 24):
        super().__init__(space, optimize_mode, seed)
        self.n_startup_trials = check_int(n_startup_trials,
                                          'searcher.n_startup_trials', 0)
        self.multivariate = check_bool(multivariate, 'searcher.multivariate')
        self.group = check_bool(group, 'searcher.group')
        if self.group and not self.multivariate:
            raise ConfigError('searcher.group: true needs multivariate: true '
                              '(set group: false for univariate TPE)')
        self.constant_liar = check_bool(constant_liar,
                                        'searcher.constant_liar')
        self.n_ei_candidates = check_int(n_ei_candidates,
                                         'searcher.n_ei_candidates', 1)
        self._seed = base_seed(seed)
        self.codec = GeneCodec(space)
        self._optuna = _optuna()
        self._distributions = self._build_distributions()
        self._records: List[_Record] = []
        self._pending: Dict[str, collections.deque] = \
            collections.defaultdict(collections.deque)

    # -- the space ---------------------------------------------------------
    def _build_distributions(self) -> Dict[int, Any]:
        """Optuna's distribution for every gene that can vary, by position."""
        dist = self._optuna.distributions
        out: Dict[int, Any] = {}
        for pos, gene in enumerate(self.codec.genes):
            if not gene.mutable:
                continue
            if gene.kind == 'real':
                out[pos] = dist.FloatDistribution(
                    gene.space.lower, gene.space.upper, log=gene.space.log)
            elif isinstance(gene.space, Int):
                out[pos] = dist.IntDistribution(
                    gene.space.min, gene.space.max, step=gene.space.step)
            else:  # Categorical, File, Nested: the index of the choice
                out[pos] = dist.CategoricalDistribution(
                    list(range(gene.size)))
        return out

    def _ask(self, trial) -> List[Any]:
        """Suggest every active gene on an Optuna trial (define-by-run);
        the gene vector, None where inactive."""
        vector: List[Any] = []
        for pos, gene in enumerate(self.codec.genes):
            if gene.parent is not None:
                parent, option = gene.parent
                if vector[parent] != option:
                    vector.append(None)
                    continue
            dist = self._distributions.get(pos)
            if dist is None:
                vector.append(gene.default() if gene.kind == 'real' else 0)
            elif gene.kind == 'real':
                vector.append(trial.suggest_float(
                    gene.path, dist.low, dist.high, log=dist.log))
            elif isinstance(gene.space, Int):
                value = trial.suggest_int(gene.path, dist.low, dist.high,
                                          step=dist.step)
                vector.append(gene.values.index(value))
            else:
                vector.append(trial.suggest_categorical(gene.path,
                                                        dist.choices))
        return vector

    def _optuna_params(self, params: Params) -> Optional[Dict[str, Any]]:
        """The Optuna params of a configuration, None if it does not fit."""
        vector = self.codec.encode(params)
        if vector is None:
            return None
        out: Dict[str, Any] = {}
        for pos, value in enumerate(vector):
            if value is None or pos not in self._distributions:
                continue
            gene = self.codec.genes[pos]
            if gene.kind == 'real':
                out[gene.path] = float(value)
            elif isinstance(gene.space, Int):
                out[gene.path] = gene.values[value]
            else:
                out[gene.path] = int(value)
        return out

    # -- the interface -------------------------------------------------------
    def suggest(self) -> Optional[Params]:
        optuna = self._optuna
        index = self.log.handed
        with _quiet(optuna):
            study = self._study()
            params = None
            for attempt in range(UNIQUE_TRIES):
                study.sampler = self._sampler(
                    derived_seed(self._seed, 'tpe', index, attempt) % 2 ** 32)
                trial = study.ask()
                params = self.codec.decode(self._ask(trial))
                if params_key(params) not in self.log.seen:
                    break
        # recorded from the params, exactly as the resume replay records a
        # running trial, so both build the same studies
        self.mark_pending(params)
        return params

    def observe(self, params: Params, reward: Optional[float]) -> None:
        super().observe(params, reward)
        failed = reward is None or not math.isfinite(float(reward))
        state = FAIL if failed else COMPLETE
        value = None if failed else float(self.utility(reward))
        queue = self._pending.get(params_key(params))
        if queue:
            record = self._records[queue.popleft()]
            record.state, record.value = state, value
        else:  # a finished trial replayed on resume
            self._records.append(_Record(self._optuna_params(params), state,
                                         value))

    def mark_pending(self, params: Params) -> None:
        super().mark_pending(params)
        self._pending[params_key(params)].append(len(self._records))
        self._records.append(_Record(self._optuna_params(params), RUNNING))

    def observe_steps(self, params: Params, steps: Sequence[float],
                      completed: bool, reward: Optional[float]) -> None:
        wanted = self._optuna_params(params)
        record = next((r for r in reversed(self._records)  # the latest
                       if r.state != RUNNING and r.params == wanted), None)
        values = [float(self.utility(v)) for v in steps]
        if wanted is None or record is None or \
                not all(map(math.isfinite, values)):
            return
        if completed:
            record.state, record.steps = COMPLETE, None
            record.value = float(self.utility(reward))
        else:
            record.state, record.value, record.steps = PRUNED, None, values

    # -- internals -----------------------------------------------------------
    def _sampler(self, seed: int):
        return self._optuna.samplers.TPESampler(
            n_startup_trials=self.n_startup_trials,
            n_ei_candidates=self.n_ei_candidates,
            multivariate=self.multivariate, group=self.group,
            constant_liar=self.constant_liar, seed=seed)

    def _study(self):
        """A fresh in-memory study holding every trial, in hand-out order."""
        optuna = self._optuna
        with _quiet(optuna):
            study = optuna.create_study(direction='maximize',
                                        sampler=self._sampler(0))
        states = {RUNNING: optuna.trial.TrialState.RUNNING,
                  COMPLETE: optuna.trial.TrialState.COMPLETE,
                  FAIL: optuna.trial.TrialState.FAIL,
                  PRUNED: optuna.trial.TrialState.PRUNED}
        names = {gene.path: pos for pos, gene in enumerate(self.codec.genes)}
        for record in self._records:
            if record.params is None:  # from an older space
                continue
            dists = {name: self._distributions[names[name]]
                     for name in record.params}
            steps = dict(enumerate(record.steps or (), start=1))
            study.add_trial(optuna.trial.create_trial(
                state=states[record.state], value=record.value,
                params=record.params, distributions=dists,
                intermediate_values=steps))
        return study

