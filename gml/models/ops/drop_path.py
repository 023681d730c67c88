"""Drop-path (stochastic depth): skip a residual branch, sample by sample."""
from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...utils.checks import check_number


def check_drop_ratio(value: Any, key: str) -> float:
    """A drop ratio (dropout, drop-path): a number from 0 to 1, below 1."""
    ratio = check_number(value, key, 0, 1)
    if ratio == 1:
        raise ConfigError(f'{key}: expected a number from 0 to 1, below 1 '
                          f'(1 drops everything), found {value!r}')
    return ratio


def drop_path(x: torch.Tensor, prob: float, training: bool) -> torch.Tensor:
    """Zero whole samples of ``x`` with probability ``prob`` and scale the
    kept ones by ``1 / (1 - prob)``; ``x`` itself outside training."""
    if prob <= 0.0 or not training:
        return x
    keep = 1.0 - prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Drop-path on the output of one residual branch (no parameters).

    ``share`` is this block's part of the network's drop-path ratio, which
    the backbone fixes when it builds the block (e.g. ``index / num_blocks``,
    so deeper blocks drop more); :meth:`set_ratio` makes the drop
    probability ``ratio * share``. A backbone's ``set_drop_path(ratio)``
    sets every block at once.
    """

    def __init__(self, share: float = 1.0, ratio: float = 0.0):
        super().__init__()
        self.share = float(share)
        self.prob = 0.0
        self.set_ratio(ratio)

    def set_ratio(self, ratio: float) -> None:
        """Drop with probability ``ratio * share`` from now on."""
        self.prob = float(ratio) * self.share

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.prob, self.training)

    def extra_repr(self) -> str:
        return f'prob={self.prob:.4g}, share={self.share:.4g}'
