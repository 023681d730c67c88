"""Random search: independent seeded samples of the space tree."""
import copy
import random as _random
from typing import Any, Dict, Optional

from ...space import sample_of
from ...space.codec import params_key
from ...utils.checks import check_int
from ..registry import SEARCHERS
from .base import Params
from .genes import LoggedSearcher, base_seed, derived_seed


@SEARCHERS.register('random')
class RandomSearcher(LoggedSearcher):
    """Samples every space independently (``Real`` in log space when
    ``log``).

    Config keys: ``optimize_mode`` (``maximize``), ``seed`` (None: a fresh
    random seed), ``max_unique_tries`` (100): samples drawn per suggestion to
    avoid a configuration that was already handed out; after that many a
    repeat is accepted (tiny discrete spaces). The i-th suggestion depends
    only on the seed, i and the configurations handed out before it, so a
    resumed task continues the very same sequence. Never runs out.
    """

    def __init__(self, space: Dict[str, Any],
                 optimize_mode: str = 'maximize',
                 seed: Optional[int] = None, max_unique_tries: int = 100):
        super().__init__(space, optimize_mode, seed)
        self._seed = base_seed(seed)
        self.max_unique_tries = check_int(
            max_unique_tries, 'searcher.max_unique_tries', 1)

    def suggest(self) -> Optional[Params]:
        rng = _random.Random(derived_seed(self._seed, 'random',
                                          self.log.handed))
        params: Any = None
        for _ in range(self.max_unique_tries):
            params = copy.deepcopy(sample_of(self.space, rng))
            if params_key(params) not in self.log.seen:
                break
        self.log.issue(params)
        return params

