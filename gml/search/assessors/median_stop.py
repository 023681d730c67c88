"""Stop trials whose best value so far is worse than the median."""
import math
from typing import Dict, List, Sequence

from ..optimize_mode import OptimizeMode
from ..registry import ASSESSORS
from .base import Assessor, check_assessor_int


@ASSESSORS.register()
class MedianStopAssessor(Assessor):
    """Median stopping rule (Google Vizier, as in NNI) with Optuna's guards.

    Comparison: at step S (the trial has S values) the trial's best value so
    far (max of its history when maximising, min when minimising; NaN
    values are skipped) is compared with the median, over the trials that
    *completed successfully* and reached step S, of their running averages
    mean(history[:S]). Maximising, the median is the lower middle element
    (index (n-1)//2 of the sorted averages) and the trial stops if its best
    is below it; minimising, the element n//2, and it stops if its best is
    above it. Failed and early-stopped trials never enter the median, and
    running trials do not either. (Optuna compares raw values at step S
    instead of running averages; Ray includes running trials.)

    Guards, checked in this order; each one keeps the trial going:

    - ``n_startup_trials`` (5): fewer trials than this have completed
      successfully.
    - ``start_step`` (0): the trial has fewer values than this (warm-up).
    - ``interval_steps`` (1): judge only at S = s0, s0 + interval,
      s0 + 2·interval, ... where s0 = max(start_step, 1). When several
      steps arrive at once (the controller polls), the trial is judged if
      one of the new steps is such a step.
    - a trial whose values are all NaN is stopped here;
    - ``n_min_trials`` (1): fewer completed trials than this reached S.

    Config keys (``scheduler.assessor``): ``optimize_mode`` (``maximize``;
    or ``minimize``), ``start_step``, ``n_startup_trials``, ``n_min_trials``,
    ``interval_steps``.
    """

    def __init__(self, optimize_mode: str = 'maximize', start_step: int = 0,
                 n_startup_trials: int = 5, n_min_trials: int = 1,
                 interval_steps: int = 1):
        super().__init__(optimize_mode, start_step)
        self.n_startup_trials = check_assessor_int(n_startup_trials,
                                           'n_startup_trials', 0)
        self.n_min_trials = check_assessor_int(n_min_trials, 'n_min_trials', 1)
        self.interval_steps = check_assessor_int(interval_steps, 'interval_steps', 1)
        # Prefix sums of every successfully completed trial's history, by
        # trial id: running average at step S = sums[S] / S.
        self._sums: Dict[int, List[float]] = {}
        # History length at each running trial's previous assess call.
        self._seen: Dict[int, int] = {}

    def median_at(self, step: int):
        """The median running average at ``step`` and how many trials gave
        one (None, 0 when none did)."""
        averages = []
        for sums in self._sums.values():
            if len(sums) > step:
                avg = sums[step] / step
                if not math.isnan(avg):
                    averages.append(avg)
        if not averages:
            return None, 0
        averages.sort()
        n = len(averages)
        maximize = self.optimize_mode is OptimizeMode.MAXIMIZE
        index = (n - 1) // 2 if maximize else n // 2
        return averages[index], n

    def _on_interval(self, previous: int, step: int) -> bool:
        """Whether a judged step lies in (previous, step]."""
        first = max(self.start_step, 1)
        if step < first:
            return False
        last_judged = step - (step - first) % self.interval_steps
        return last_judged > previous

    def assess(self, trial_id: int, history: Sequence[float]) -> bool:
        step = len(history)
        previous = min(self._seen.get(trial_id, 0), step - 1)
        self._seen[trial_id] = step
        if len(self._sums) < self.n_startup_trials:
            return True
        if step == 0 or step < self.start_step:
            return True
        if not self._on_interval(previous, step):
            return True
        values = [float(v) for v in history if not math.isnan(v)]
        if not values:
            return False
        best = self.optimize_mode.best(values)
        median, count = self.median_at(step)
        if median is None or count < self.n_min_trials:
            return True
        return self.optimize_mode.reached(best, median)

    def trial_end(self, trial_id: int, history: List[float],
                  completed: bool, paused: bool = False) -> None:
        self._seen.pop(trial_id, None)
        if completed and history:
            sums = [0.0]
            for v in history:
                sums.append(sums[-1] + float(v))
            self._sums[trial_id] = sums
        else:
            self._sums.pop(trial_id, None)
