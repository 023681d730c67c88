"""FLOPs and parameters of a supernet's subnets, cached by configuration."""
from collections import OrderedDict
from typing import Any, Dict

from ..space.codec import params_key


class SubnetCost:
    """``cost(config)`` activates ``config`` on ``model`` and counts it.

    Counting runs one forward pass (see :func:`gml.models.ops.count_flops`),
    so results are cached by the configuration's canonical key (the most
    recent ``max_entries``). Calling it leaves ``config`` active on the
    model.

    Args:
        model: a supernet with ``set_subnet(config)``.
        evaluator: a :class:`~gml.evaluators.NaiveEvaluator` (units and
            input shape).
        max_entries: cached subnets.
    """

    def __init__(self, model, evaluator, max_entries: int = 20000):
        self.model = model
        self.evaluator = evaluator
        self.max_entries = max_entries
        self._cache: 'OrderedDict[str, Dict[str, float]]' = OrderedDict()

    @property
    def units(self) -> str:
        return self.evaluator.units or ''

    def __call__(self, config: Any) -> Dict[str, float]:
        """``dict(flops=..., params=...)`` of one subnet."""
        key = params_key(config)
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            self.model.set_subnet(config)
            self._cache[key] = self.evaluator.evaluate(self.model)
            if len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return dict(self._cache[key])

    def flops(self, config: Any) -> float:
        return self(config)['flops']
