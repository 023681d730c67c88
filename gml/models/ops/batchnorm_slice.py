"""Batch normalisation over the leading channels of its largest tensors."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from ...registry import MODELS
from ...utils.checks import check_int, check_number, is_number
from .utils import active_width, input_width


@MODELS.register_module()
class BatchNorm2dSlice(nn.BatchNorm2d):
    """Weight-sharing ``BatchNorm2d`` whose width follows its input.

    For an input with ``c`` channels it uses ``weight[:c]``, ``bias[:c]``,
    ``running_mean[:c]`` and ``running_var[:c]``. In train mode only
    ``running_mean[:c]`` and ``running_var[:c]`` are updated (in place);
    entries ``[c:]`` are left untouched. ``num_batches_tracked`` is shared by
    all widths (it only matters for ``momentum=None``, the cumulative average
    used by BN recalibration, which runs one subnet at a time). At full width
    the op is exactly ``nn.BatchNorm2d``.

    Args (config keys):
        num_features: the largest channel count.
        eps: added to the variance.
        momentum: running-stats momentum; None for a cumulative average, 0
            to freeze the stats (BigNAS supernet training).

    ``to_static(num_features=None)`` returns a plain ``nn.BatchNorm2d``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5,
                 momentum: Optional[float] = 0.1):
        name = type(self).__name__
        if momentum is not None and not (is_number(momentum)
                                         and 0 <= momentum <= 1):
            raise ConfigError(f'{name}.momentum: expected None or a number '
                              f'in [0, 1], found {momentum!r}')
        super().__init__(check_int(num_features, f'{name}.num_features', 1),
                         eps=check_number(eps, f'{name}.eps', 0, strict=True),
                         momentum=momentum)
        self.last_num_features: Optional[int] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        c = input_width(x, 1, self.num_features, type(self).__name__,
                        'channels')
        self.last_num_features = c
        if c == self.num_features:
            return super().forward(x)
        if self.training:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) \
                if self.momentum is None else self.momentum
        else:
            factor = 0.0
        # Leading slices of 1-D tensors are views, so batch_norm's in-place
        # update of the running stats lands in [:c] of the full buffers.
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c],
                            self.weight[:c], self.bias[:c], self.training,
                            factor, self.eps)

    def to_static(self, num_features: Optional[int] = None) -> \
            nn.BatchNorm2d:
        """A plain ``nn.BatchNorm2d(c)`` with copies of the ``[:c]`` slices.

        ``num_features`` defaults to the width of the last input seen, else
        the largest. Parameters, running stats and ``num_batches_tracked``
        are copied, so its output equals this op's output exactly.
        """
        if num_features is None:
            num_features = self.last_num_features or self.num_features
        c = active_width(num_features, self.num_features,
                         f'{type(self).__name__}.to_static: num_features')
        static = nn.BatchNorm2d(c, eps=self.eps, momentum=self.momentum)
        static = static.to(device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            static.weight.copy_(self.weight[:c])
            static.bias.copy_(self.bias[:c])
            static.running_mean.copy_(self.running_mean[:c])
            static.running_var.copy_(self.running_var[:c])
            static.num_batches_tracked.copy_(self.num_batches_tracked)
        static.train(self.training)
        return static
