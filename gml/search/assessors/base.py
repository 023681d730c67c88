"""What every assessor does: decide whether a running trial goes on."""
from abc import ABC, abstractmethod
from typing import List, Sequence

from ...errors import ConfigError
from ..searchers.base import normalize_mode

LONG_MODES = {'max': 'maximize', 'min': 'minimize'}


def normalize_assessor_mode(mode: str,
                            key: str = 'scheduler.assessor.optimize_mode'
                            ) -> str:
    """Accept maximize/minimize and max/min; return the long form."""
    return LONG_MODES[normalize_mode(mode, key)]


class Assessor(ABC):
    """Judges a running trial from its intermediate rewards.

    ``history`` is the trial's reward values, one per reported step, in step
    order. The controller calls :meth:`assess` each time a trial reports a
    new step, and :meth:`trial_end` once when a trial ends (on resume, again
    for every trial that had ended). State is kept per trial id, so parallel
    trials never mix.

    Args:
        optimize_mode: ``'maximize'`` or ``'minimize'``.
        start_step: no judgement before a trial has this many values.
    """

    def __init__(self, optimize_mode: str = 'maximize', start_step: int = 1):
        self.optimize_mode = normalize_assessor_mode(optimize_mode)
        if not isinstance(start_step, int) or start_step < 0:
            raise ConfigError(f'scheduler.assessor.start_step: expected an '
                              f'integer >= 0, found {start_step!r}')
        self.start_step = start_step

    @abstractmethod
    def assess(self, trial_id: int, history: Sequence[float]) -> bool:
        """True if the trial should go on, False to stop it early."""

    def trial_end(self, trial_id: int, history: List[float],
                  completed: bool) -> None:
        """The trial ended; ``completed`` is False for failed or stopped."""
