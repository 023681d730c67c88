"""Multi-fidelity early stopping: asynchronous successive halving (ASHA)
and Hyperband's brackets of it.

The *resource* of a trial is the number of values it has reported for the
reward (one per epoch when the trial reports after every epoch). Rungs lie
at ``min_resource · η^(s + k)`` (η = ``reduction_factor``, s the bracket's
early-stopping rate, k = 0, 1, ...) below ``max_resource``. A trial that
reaches a rung goes on only while its value there is among the best
``max(1, n // η)`` of the n values recorded at that rung so far (itself
included), as Li et al. 2020 (ASHA) decide a promotion; otherwise it stops
(EARLY_STOPPED, its reward its last value, which the searcher learns).
Deciding at arrival needs no synchronisation between trials, so the
parallel slots never wait for a rung to fill. With ``mode: promote`` such a
trial is paused instead, and promoted (run on) when enough later arrivals
rank below it.
"""
import math
import random
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence

from ...errors import ConfigError
from ..registry import ASSESSORS
from .base import Assessor, check_assessor_int

PREDICTORS = (None, 'curve_fitting')
MODES = ('stop', 'promote')


class _Rungs:
    """The values recorded at each rung of one bracket, by trial."""

    def __init__(self, resources: List[int]):
        self.resources = resources
        self.values: List[Dict[int, float]] = [{} for _ in resources]

    def reached(self, resource: int) -> List[int]:
        """Indices of the rungs at or below ``resource``."""
        return [k for k, r in enumerate(self.resources) if r <= resource]


class SuccessiveHalving:
    """The rungs and the promotion rule of one bracket (no config)."""

    def __init__(self, min_resource: int, reduction_factor: int,
                 max_resource: Optional[int], stopping_rate: int,
                 utility, value_at):
        self.eta = reduction_factor
        self.utility = utility  # larger is better
        self.value_at = value_at  # (history, resource) -> ranked value
        resources, k = [], stopping_rate
        limit = max_resource if max_resource is not None else 10 ** 9
        while min_resource * self.eta ** k < limit and k < 64:
            resources.append(min_resource * self.eta ** k)
            k += 1
        self.rungs = _Rungs(resources)

    def promotable(self, rung: int, trial_id: int) -> bool:
        values = self.rungs.values[rung]
        top = max(1, len(values) // self.eta)
        mine = self.utility(values[trial_id])
        better = sum(1 for t, v in values.items()
                     if t != trial_id and self.utility(v) > mine)
        return better < top

    def judge(self, trial_id: int, history: Sequence[float]) -> \
            Optional[int]:
        """Record the trial at every rung it newly reached. Returns None if
        it goes on, the first rung where it is not among the best, or -1
        when its value is not finite (stopped for good)."""
        failed = None
        for rung in self.rungs.reached(len(history)):
            values = self.rungs.values[rung]
            if trial_id in values:
                continue
            value = self.value_at(history, self.rungs.resources[rung])
            if not math.isfinite(value):
                return -1
            values[trial_id] = value
            if failed is None and not self.promotable(rung, trial_id):
                failed = rung
        return failed

    def record(self, trial_id: int, history: Sequence[float]) -> \
            Optional[int]:
        """An ended trial's values at the rungs it reached (resume replay);
        returns the highest of those rungs (None if none)."""
        reached = self.rungs.reached(len(history))
        for rung in reached:
            value = self.value_at(history, self.rungs.resources[rung])
            if math.isfinite(value):
                self.rungs.values[rung].setdefault(trial_id, value)
        return reached[-1] if reached else None


class _MultiFidelity(Assessor):
    """Shared config of the successive-halving assessors."""

    def __init__(self, optimize_mode: str = 'maximize',
                 min_resource: int = 1, max_resource: Optional[int] = None,
                 reduction_factor: int = 3, predict: Optional[str] = None,
                 seed: int = 0, mode: str = 'stop'):
        super().__init__(optimize_mode, 0)
        if mode not in MODES:
            raise ConfigError(f'scheduler.assessor.mode: expected stop or '
                              f'promote, found {mode!r}')
        self.pauses = mode == 'promote'
        # paused trial id -> the rung (index in its bracket) it waits at
        self.paused: Dict[int, int] = {}
        self._verdicts: Dict[int, int] = {}  # trial id -> failed rung
        self.min_resource = check_assessor_int(min_resource, 'min_resource', 1)
        if max_resource is not None:
            max_resource = check_assessor_int(max_resource, 'max_resource', 1)
            if max_resource <= self.min_resource:
                raise ConfigError(
                    f'scheduler.assessor.max_resource: expected more than '
                    f'min_resource ({self.min_resource}), found {max_resource}')
        self.max_resource = max_resource
        self.reduction_factor = check_assessor_int(reduction_factor,
                                                   'reduction_factor', 2)
        if predict not in PREDICTORS:
            raise ConfigError(f'scheduler.assessor.predict: expected '
                              f'curve_fitting or nothing, found {predict!r}')
        self.predictor = None
        if predict == 'curve_fitting':
            if max_resource is None:
                raise ConfigError('scheduler.assessor.predict: curve_fitting '
                                  'predicts the value at max_resource; give '
                                  'scheduler.assessor.max_resource')
            from .curve_fitting import CurveFittingAssessor
            self.predictor = CurveFittingAssessor(
                optimize_mode, start_step=1, epoch_num=max_resource,
                seed=check_assessor_int(seed, 'seed', 0))

    def value_at(self, history: Sequence[float], resource: int) -> float:
        """The value a trial is ranked by at a rung: its reward at that
        resource, or, with ``predict: curve_fitting``, the final value its
        curve up to there predicts, held to :meth:`plausible` bounds (the
        reward itself when no prediction can be made)."""
        seen = [float(v) for v in history[:resource]]
        if self.predictor is not None and all(map(math.isfinite, seen)):
            predicted = self.predictor.predict(seen)
            if predicted is not None and math.isfinite(predicted):
                return self.plausible(seen, predicted)
        return seen[-1]

    def plausible(self, seen: Sequence[float], predicted: float) -> float:
        """A prediction held to what a saturating curve can reach: not
        below the last value, and not above the straight line through the
        first and the last value extended to ``max_resource`` (a concave
        rising curve stays under its chords). Unbounded extrapolations
        (a curve model's 3,000% accuracy) would otherwise decide the rung."""
        last = seen[-1]
        slope = (last - seen[0]) / (len(seen) - 1) if len(seen) > 1 else 0.0
        ceiling = last + max(slope, 0.0) * (self.max_resource - len(seen))
        return min(max(predicted, last), ceiling)

    def _bracket(self, stopping_rate: int) -> SuccessiveHalving:
        return SuccessiveHalving(self.min_resource, self.reduction_factor,
                                 self.max_resource, stopping_rate,
                                 self.optimize_mode.utility, self.value_at)

    @abstractmethod
    def bracket_of(self, trial_id: int) -> SuccessiveHalving:
        """The bracket trial ``trial_id`` competes in."""

    def assess(self, trial_id: int, history: Sequence[float]) -> bool:
        failed = self.bracket_of(trial_id).judge(trial_id, history)
        if failed is None:
            return True
        self._verdicts[trial_id] = failed
        return False

    def pause_rung(self, trial_id: int) -> Optional[int]:
        rung = self._verdicts.pop(trial_id, -1)
        if not self.pauses or rung < 0:
            return None
        return self.bracket_of(trial_id).rungs.resources[rung]

    def trial_end(self, trial_id: int, history: List[float],
                  completed: bool, paused: bool = False) -> None:
        rung = self.bracket_of(trial_id).record(trial_id, history)
        if paused and rung is not None:
            self.paused[trial_id] = rung
        else:
            self.paused.pop(trial_id, None)

    def promotion(self) -> Optional[int]:
        """ASHA's promotion: of the paused trials now among the best
        ``max(1, n // η)`` at their rung, the one at the highest rung (the
        best value among equals) goes on."""
        ready = [(rung, self.bracket_of(t).rungs.values[rung][t], t)
                 for t, rung in self.paused.items()
                 if self.bracket_of(t).promotable(rung, t)]
        if not ready:
            return None
        rung, _, trial_id = max(ready, key=lambda r: (
            r[0], self.optimize_mode.utility(r[1]), -r[2]))
        self.promote(trial_id)
        return trial_id

    def promote(self, trial_id: int) -> None:
        self.paused.pop(trial_id, None)


@ASSESSORS.register('asha', 'ASHA', 'successive_halving')
class SuccessiveHalvingAssessor(_MultiFidelity):
    """Asynchronous successive halving (ASHA) over a trial's reported steps.

    Config keys (``scheduler.assessor``): ``min_resource`` (1): the first
    rung; ``max_resource`` (none: rungs go on as long as trials report):
    the resource of a complete trial, where no rung lies;
    ``reduction_factor`` (3): η, 1/η of the trials at a rung go on;
    ``min_early_stopping_rate`` (0): s, the first rung is at
    ``min_resource · η^s``; ``predict`` (none): ``curve_fitting`` ranks
    trials at a rung by the final value (at ``max_resource``) their curve
    predicts (Domhan et al. 2015, :class:`CurveFittingAssessor`'s model)
    instead of their current value; ``mode`` (``stop``): ``promote``
    pauses a trial that is not among the best at a rung instead of
    stopping it, and resumes it (a *promotion*) as soon as it ranks among
    the best there, as more trials arrive, before any new trial starts
    (ASHA as published); ``optimize_mode`` (the searcher's).
    """

    def __init__(self, optimize_mode: str = 'maximize',
                 min_resource: int = 1, max_resource: Optional[int] = None,
                 reduction_factor: int = 3, min_early_stopping_rate: int = 0,
                 predict: Optional[str] = None, seed: int = 0,
                 mode: str = 'stop'):
        super().__init__(optimize_mode, min_resource, max_resource,
                         reduction_factor, predict, seed, mode)
        rate = check_assessor_int(min_early_stopping_rate,
                                  'min_early_stopping_rate', 0)
        self.bracket = self._bracket(rate)
        if not self.bracket.rungs.resources:
            raise ConfigError(
                'scheduler.assessor.min_early_stopping_rate: the first rung '
                f'({self.min_resource}·{self.reduction_factor}^{rate}) is not '
                f'below max_resource ({max_resource}): no trial would ever be '
                'judged')

    def bracket_of(self, trial_id: int) -> SuccessiveHalving:
        return self.bracket

    @property
    def rungs(self) -> List[int]:
        """The resources at which trials are judged."""
        return list(self.bracket.rungs.resources)


@ASSESSORS.register('hyperband')
class HyperbandAssessor(_MultiFidelity):
    """Hyperband (Li et al. 2018) run asynchronously: brackets of ASHA
    with early-stopping rates s = 0 .. s_max (s_max = ⌊log_η(max/min)⌋),
    bracket s judging first at ``min_resource · η^s`` (bracket s_max runs
    every trial to the end). Each trial belongs to one bracket, drawn from
    its id and ``seed`` with the weights of Hyperband's bracket sizes
    ⌈(s_max + 1) · η^(s_max - s) / (s_max - s + 1)⌉, so a resumed task puts
    every trial where it was; trials compete only within their bracket.

    Config keys (``scheduler.assessor``): ``min_resource`` (1),
    ``max_resource`` (required), ``reduction_factor`` (3), ``predict``,
    ``mode``, ``seed`` (0), ``optimize_mode``: as for
    :class:`SuccessiveHalvingAssessor`.
    """

    def __init__(self, optimize_mode: str = 'maximize',
                 min_resource: int = 1, max_resource: Optional[int] = None,
                 reduction_factor: int = 3, predict: Optional[str] = None,
                 seed: int = 0, mode: str = 'stop'):
        if max_resource is None:
            raise ConfigError('scheduler.assessor.max_resource: Hyperband '
                              'needs the resource of a complete trial (e.g. '
                              'its number of epochs), found none')
        super().__init__(optimize_mode, min_resource, max_resource,
                         reduction_factor, predict, seed, mode)
        self.seed = check_assessor_int(seed, 'seed', 0)
        eta = self.reduction_factor
        s_max = 0
        while self.min_resource * eta ** (s_max + 1) <= self.max_resource:
            s_max += 1
        self.brackets = [self._bracket(s) for s in range(s_max + 1)]
        self.weights = [math.ceil((s_max + 1) * eta ** (s_max - s) /
                                  (s_max - s + 1)) for s in range(s_max + 1)]

    def bracket_index(self, trial_id: int) -> int:
        """The bracket of trial ``trial_id`` (its early-stopping rate)."""
        draw = random.Random(f'{self.seed}:{trial_id}').random() * \
            sum(self.weights)
        for index, weight in enumerate(self.weights):
            draw -= weight
            if draw < 0:
                return index
        return len(self.weights) - 1

    def bracket_of(self, trial_id: int) -> SuccessiveHalving:
        return self.brackets[self.bracket_index(trial_id)]
