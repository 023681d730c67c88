"""FLOPs and parameters of the active subnet, by the analytic counter."""
from typing import Dict, Sequence

import torch.nn as nn

from ..errors import ConfigError
from ..registry import MODELS

UNITS = ('G', 'M', None)


@MODELS.register_module()
class NaiveEvaluator:
    """Counts MACs and parameters of a model at ``default_shape``.

    Uses :func:`gml.models.ops.count_flops` (conv and linear MACs at the
    active widths and kernels; see docs/nas.md), so every subnet of a
    supernet is counted as what it runs.

    Args:
        units: ``'G'``, ``'M'`` or None (plain counts).
        default_shape: the input shape, e.g. ``(1, 3, 224, 224)``.
    """

    def __init__(self, units: str = 'M',
                 default_shape: Sequence[int] = (1, 3, 224, 224)):
        if units not in UNITS:
            raise ConfigError(f'evaluator.units: expected one of {UNITS}, '
                              f'found {units!r}')
        if len(default_shape) != 4:
            raise ConfigError(f'evaluator.default_shape: expected (N, C, H, '
                              f'W), found {default_shape!r}')
        self.units = units
        self.default_shape = tuple(int(v) for v in default_shape)

    def evaluate(self, model: nn.Module) -> Dict[str, float]:
        """``dict(flops=..., params=...)`` of ``model`` as it is set now."""
        from ..models.ops import count_flops
        return count_flops(model, input_shape=self.default_shape,
                           units=self.units)
