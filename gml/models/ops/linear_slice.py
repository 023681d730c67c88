"""A fully connected layer that runs on leading slices of its weights."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...utils.checks import check_int
from .utils import active_width, fill_static, input_width


@MODELS.register_module()
class LinearSlice(nn.Linear):
    """Weight-sharing ``Linear``: computes with ``W[:out, :in]``, ``b[:out]``.

    ``in`` is the size of the input's last dimension, ``out`` the active
    width.

    Args (config keys):
        in_features: the largest input size.
        out_features: the largest output size.
        bias: whether the layer has a bias.

    ``set_active(out_features=None)`` chooses the active width (None = the
    largest); ``to_static()`` returns a plain ``nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int,
                 bias: bool = True):
        name = type(self).__name__
        super().__init__(check_int(in_features, f'{name}.in_features', 1),
                         check_int(out_features, f'{name}.out_features', 1),
                         bias=bool(bias))
        self._active_out: Optional[int] = None
        self.last_in_features: Optional[int] = None

    def set_active(self, out_features: Optional[int] = None) -> None:
        """Choose the active output size (None = the largest)."""
        self._active_out = active_width(
            out_features, self.out_features,
            f'{type(self).__name__}.set_active: out_features')

    @property
    def active_out_features(self) -> int:
        return self.out_features if self._active_out is None \
            else self._active_out

    def active_config(self) -> dict:
        """The active ``out_features`` (a resolved int)."""
        return dict(out_features=self.active_out_features)

    def _resolve(self, in_features: int):
        out = self.active_out_features
        weight, bias = self.weight, self.bias
        if out < self.out_features or in_features < self.in_features:
            weight = weight[:out, :in_features]
        if bias is not None and out < self.out_features:
            bias = bias[:out]
        return weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_features = input_width(x, -1, self.in_features,
                                  type(self).__name__, 'features')
        self.last_in_features = in_features
        weight, bias = self._resolve(in_features)
        return F.linear(x, weight, bias)

    def to_static(self, in_features: Optional[int] = None) -> nn.Linear:
        """A plain ``nn.Linear`` holding copies of the active weights.

        ``in_features`` defaults to the size of the last input seen, else
        the largest. Its output equals this op's output exactly.
        """
        if in_features is None:
            in_features = self.last_in_features or self.in_features
        in_features = active_width(
            in_features, self.in_features,
            f'{type(self).__name__}.to_static: in_features')
        weight, bias = self._resolve(in_features)
        static = nn.Linear(in_features, weight.shape[0],
                           bias=bias is not None)
        return fill_static(static, self, weight, bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + \
            f', active_out_features={self.active_out_features}'
