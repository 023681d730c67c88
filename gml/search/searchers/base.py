"""What every searcher does: propose parameters, learn from results."""
import inspect
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Sequence

from ...space import Space, iter_spaces
from ..optimize_mode import OptimizeMode

Params = Dict[str, Any]


class Searcher(ABC):
    """Proposes the parameters of the next trial.

    The controller calls :meth:`suggest` whenever a trial slot is free,
    :meth:`observe` once for every trial that ends (then
    :meth:`observe_steps` with its learning curve), and, when a task is
    resumed, the same for each finished trial and :meth:`mark_pending`
    for each trial still running or re-queued, in trial order. A searcher is
    rebuilt from its config on resume, so this replay is its whole state.

    Args:
        space: the task's ``search_args`` as a space tree: a dict from
            argument name to a :class:`~gml.space.Space` or a fixed value.
        optimize_mode: ``'maximize'`` or ``'minimize'`` the reward (or
            ``'max'`` / ``'min'``).
        seed: makes every random choice reproducible.
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None):
        self.space = space
        self.optimize_mode = OptimizeMode.parse(optimize_mode,
                                                'searcher.optimize_mode')
        self.seed = seed
        self.check_space(space)

    def check_space(self, space: Dict[str, Any]) -> None:
        """Raise ConfigError (naming ``task.search_args.<name>``) if this
        searcher cannot search ``space``."""

    @abstractmethod
    def suggest(self) -> Optional[Params]:
        """Parameters for one new trial, or None when nothing is left."""

    def observe(self, params: Params, reward: Optional[float]) -> None:
        """A trial with ``params`` ended; ``reward`` is None if it failed."""

    def mark_pending(self, params: Params) -> None:
        """A trial with ``params`` was handed out and has no result yet."""

    def observe_steps(self, params: Params, steps: Sequence[float],
                      completed: bool, reward: Optional[float]) -> None:
        """The reward a trial reported at each step so far, right after
        :meth:`observe` (or, for a trial promoted after a pause, again when
        it pauses or ends later); ``completed`` is False for a trial an
        assessor stopped or paused short of its end, ``reward`` the trial's
        reward as :meth:`observe` would be told it. Searchers that learn
        from partial training (TPE ranks such trials by how far they got,
        as Optuna does with pruned trials) use it; the default ignores it.
        Failed trials are not told."""

    # -- helpers for subclasses -----------------------------------------
    def utility(self, reward: float) -> float:
        """The reward turned so that larger is always better."""
        return self.optimize_mode.utility(reward)

    def spaces(self) -> List[tuple]:
        """``(name, space)`` for every searchable leaf of the space tree."""
        return list(iter_spaces(self.space))

    @staticmethod
    def space_key(name: str) -> str:
        return f'task.search_args.{name}'

    @staticmethod
    def is_space(value: Any) -> bool:
        return isinstance(value, Space)


def with_budget(cfg: Dict[str, Any], budget: Optional[int]) -> Dict[str, Any]:
    """``cfg`` (a searcher config with ``type``) plus ``budget``, the
    number of trials the search will run, when the searcher's ``__init__``
    takes a ``budget`` argument that the config does not set. Other
    searchers, and a None budget, leave ``cfg`` unchanged (a copy)."""
    from ..registry import SEARCHERS
    cfg = dict(cfg)
    if budget is None or 'budget' in cfg:
        return cfg
    cls = SEARCHERS.classes.get(cfg.get('type'))
    if cls is not None and \
            'budget' in inspect.signature(cls.__init__).parameters:
        cfg['budget'] = budget
    return cfg
