"""Stop trials whose extrapolated learning curve ends well below the best."""
import logging
import math
import time
from typing import Dict, List, Optional, Sequence

from ...errors import ConfigError
from ...utils.checks import check_number
from ..optimize_mode import OptimizeMode
from ..registry import ASSESSORS
from .base import Assessor, check_assessor_int

logger = logging.getLogger(__name__)

SLOW_PREDICTION_S = 60.0


@ASSESSORS.register()
class CurveFittingAssessor(Assessor):
    """Learning-curve extrapolation (Domhan et al. 2015, as in NNI).

    Fits twelve parametric curve models to the trial's history, weights the
    plausible ones by Metropolis-Hastings (see
    :mod:`gml.search.assessors.curve_models`) and predicts the value at step
    ``epoch_num``. The trial stops when that prediction is at most
    ``threshold`` times the best final value of the trials that completed.

    Config keys (``scheduler.assessor``):

    - ``optimize_mode`` (``maximize``): only ``maximize``; the metric must be
      accuracy-like (higher is better, saturating).
    - ``start_step`` (6): no judgement before the trial has this many values.
    - ``epoch_num`` (20): the step whose value is predicted (the trial's
      full length).
    - ``threshold`` (0.95): stop when prediction <= threshold × best.
    - ``gap`` (1): judge a trial again only after this many new values.
    - ``seed`` (0): seed of the Metropolis-Hastings sampler.

    Every trial is judged Good until one trial has completed successfully;
    when fewer than 4 models survive the fit filters there is no prediction
    and the trial goes on. A trial whose latest value is NaN or infinite is
    stopped once judging has started.
    """

    MIN_MODELS = 4

    def __init__(self, optimize_mode: str = 'maximize', start_step: int = 6,
                 epoch_num: int = 20, threshold: float = 0.95, gap: int = 1,
                 seed: int = 0):
        super().__init__(optimize_mode, start_step)
        if self.optimize_mode is not OptimizeMode.MAXIMIZE:
            raise ConfigError(
                'scheduler.assessor.optimize_mode: CurveFittingAssessor only '
                'supports maximize (NNI removed its minimize mode because it '
                'stopped good trials early, nni#2429); report an '
                'accuracy-like metric, or use MedianStopAssessor')
        self.epoch_num = check_assessor_int(epoch_num, 'epoch_num', 1)
        if start_step > epoch_num:
            raise ConfigError(
                f'scheduler.assessor.start_step: {start_step} is after '
                f'epoch_num {epoch_num}, so no trial would ever be judged')
        self.threshold = check_number(threshold,
                                      'scheduler.assessor.threshold', 0,
                                      strict=True, finite=True)
        self.gap = check_assessor_int(gap, 'gap', 1)
        self.seed = check_assessor_int(seed, 'seed', 0)
        # Final value of every successfully completed trial, by trial id.
        self._final: Dict[int, float] = {}
        # Length of the history at each running trial's last judgement.
        self._judged_at: Dict[int, int] = {}

    @property
    def best_final(self) -> Optional[float]:
        """Best final value over the completed trials (None before one)."""
        return max(self._final.values()) if self._final else None

    def predict(self, history: Sequence[float]) -> Optional[float]:
        """Predicted value at step ``epoch_num``, or None (no prediction).

        A pure function of ``history`` and the config: no state of this
        assessor or of another trial is read or written.
        """
        from .curve_models import predict_final
        start = time.perf_counter()
        result = predict_final(list(history), self.epoch_num, seed=self.seed,
                               min_models=self.MIN_MODELS)
        took = time.perf_counter() - start
        if took > SLOW_PREDICTION_S:
            logger.warning('curve-fitting prediction took %.0f s for a '
                           'history of %d values', took, len(history))
        return result.value

    def assess(self, trial_id: int, history: Sequence[float]) -> bool:
        best = self.best_final
        if best is None:
            return True
        n = len(history)
        if n == 0 or n < self.start_step:
            return True
        last = self._judged_at.get(trial_id)
        if last is not None and n - last < self.gap:
            return True
        self._judged_at[trial_id] = n
        if not math.isfinite(history[-1]):
            return False
        prediction = self.predict(history)
        if prediction is None:
            return True
        return prediction > self.threshold * best

    def trial_end(self, trial_id: int, history: List[float],
                  completed: bool, paused: bool = False) -> None:
        self._judged_at.pop(trial_id, None)
        if completed and history and math.isfinite(history[-1]):
            self._final[trial_id] = float(history[-1])
        else:
            self._final.pop(trial_id, None)
