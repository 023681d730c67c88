"""What every assessor does: decide whether a running trial goes on."""
from abc import ABC, abstractmethod
from typing import List, Optional, Sequence

from ...utils.checks import check_int
from ..optimize_mode import OptimizeMode


def check_assessor_int(value, name: str, minimum: int) -> int:
    """``scheduler.assessor.<name>`` as an int >= ``minimum``."""
    return check_int(value, f'scheduler.assessor.{name}', minimum)


class Assessor(ABC):
    """Judges a running trial from its intermediate rewards.

    ``history`` is the trial's reward values, one per reported step, in step
    order. The controller calls :meth:`assess` each time a trial reports a
    new step, and :meth:`trial_end` once when a trial ends (on resume, again
    for every trial that had ended). State is kept per trial id, so parallel
    trials never mix.

    Args:
        optimize_mode: ``'maximize'`` or ``'minimize'`` (or ``'max'`` /
            ``'min'``).
        start_step: no judgement before a trial has this many values.
    """

    def __init__(self, optimize_mode: str = 'maximize', start_step: int = 1):
        self.optimize_mode = OptimizeMode.parse(
            optimize_mode, 'scheduler.assessor.optimize_mode')
        self.start_step = check_assessor_int(start_step, 'start_step', 0)

    #: True for an assessor that pauses the trials it judges (they may be
    #: promoted later) instead of stopping them for good
    pauses = False

    @abstractmethod
    def assess(self, trial_id: int, history: Sequence[float]) -> bool:
        """True if the trial should go on, False to stop (or pause) it."""

    def trial_end(self, trial_id: int, history: List[float],
                  completed: bool, paused: bool = False) -> None:
        """The trial ended; ``completed`` is False for failed or stopped
        trials; ``paused`` is True for a trial this assessor paused."""

    def pause_rung(self, trial_id: int) -> Optional[int]:
        """Where trial ``trial_id``, just judged False, waits for a
        promotion (a resource), or None if it is stopped for good."""
        return None

    def promotion(self) -> Optional[int]:
        """A paused trial that now deserves to go on (it is marked
        promoted), or None."""
        return None

    def promote(self, trial_id: int) -> None:
        """Trial ``trial_id`` was promoted (replayed after a restart)."""
