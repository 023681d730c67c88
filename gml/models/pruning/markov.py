"""DMCP's width grid and Markov keep probabilities for one channel unit.

A unit of ``C`` channels (at the model's width ``max``) is a mandatory part
followed by ``num_groups`` equal groups, for the width grid
``(min, max, offset)``::

    num_groups = floor((max - min) / offset + 1e-4)
    group_size = floor(offset * C / max)
    min_ch     = C - group_size * num_groups

(so ``min_ch`` is not exactly ``min * C``: C = 64 gives 10, 6, 9). Group
``k`` is kept, given group ``k - 1`` is, with probability
``p_k = sigmoid(alpha_k)`` (or ``exp(-max(alpha_k, 0))``); groups are kept
in order, so group ``k`` is kept with the marginal ``prod_{i<=k} p_i``, and
the expected width is ``min_ch + group_size * sum_k prod_{i<=k} p_i``.
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch

from ...errors import ConfigError

PROBABILITIES = ('sigmoid', 'exp')


@dataclass(frozen=True)
class WidthGrid:
    """``width=dict(min=0.1, max=1.0, offset=0.1)`` of the DMCP mutator."""
    min: float = 0.1
    max: float = 1.0
    offset: float = 0.1

    @classmethod
    def from_cfg(cls, cfg: Optional[dict]) -> 'WidthGrid':
        cfg = dict(cfg or {})
        unknown = set(cfg) - {'min', 'max', 'offset'}
        if unknown:
            raise ConfigError(f'mutator.width: unknown keys {sorted(unknown)}'
                              '; expected min, max, offset')
        grid = cls(**{k: float(v) for k, v in cfg.items()})
        if not (0 < grid.min < grid.max and 0 < grid.offset <=
                grid.max - grid.min):
            raise ConfigError(f'mutator.width: expected 0 < min < max and '
                              f'0 < offset <= max - min, found {cfg}')
        return grid

    @property
    def num_groups(self) -> int:
        return int(math.floor((self.max - self.min) / self.offset + 1e-4))

    def groups_of(self, channels: int, step: int = 1) -> 'ChannelGroups':
        """The groups of a unit of ``channels`` pruned ``step`` channels
        at a time (a grouped conv's group width, say): the grid applies to
        its ``channels // step`` elements."""
        elements = channels // step
        size = int(math.floor(self.offset * elements / self.max + 1e-9))
        count = self.num_groups if size > 0 else 0
        return ChannelGroups((elements - size * count) * step, size * step,
                             count, step)


@dataclass(frozen=True)
class ChannelGroups:
    """``min_ch`` mandatory channels, then ``num_groups`` x ``group_size``
    (all multiples of ``step``, the channels pruned together)."""
    min_ch: int
    group_size: int
    num_groups: int
    step: int = 1

    @property
    def channels(self) -> int:
        return self.min_ch + self.group_size * self.num_groups

    def width(self, kept_groups: int) -> int:
        return self.min_ch + self.group_size * kept_groups

    def kept_groups(self, width: int) -> int:
        """The group count of a grid width (ConfigError off the grid)."""
        kept, rest = divmod(int(width) - self.min_ch, self.group_size or 1)
        if rest or not 0 <= kept <= self.num_groups:
            raise ConfigError(
                f'{width} channels is not on the grid {self.min_ch} + '
                f'{self.group_size} * k (k = 0..{self.num_groups})')
        return kept

    def nearest(self, width: float) -> int:
        """The grid width closest to ``width`` (ties round down)."""
        if not self.group_size:
            return self.min_ch
        kept = math.floor((width - self.min_ch) / self.group_size + 0.5 -
                          1e-9)
        return self.width(min(max(kept, 0), self.num_groups))


def keep_probabilities(alpha: torch.Tensor, kind: str = 'sigmoid'
                       ) -> torch.Tensor:
    """``p_k`` of keeping group k given group k - 1 is kept."""
    if kind == 'sigmoid':
        return torch.sigmoid(alpha)
    if kind == 'exp':
        return torch.exp(-torch.clamp(alpha, min=0))
    raise ConfigError(f'mutator.probability: expected one of {PROBABILITIES}'
                      f', found {kind!r}')


def marginals(alpha: torch.Tensor, kind: str = 'sigmoid') -> torch.Tensor:
    """``P(group k kept) = prod_{i<=k} p_i``."""
    return torch.cumprod(keep_probabilities(alpha, kind), dim=0)


def expected_width(groups: ChannelGroups, alpha: torch.Tensor,
                   kind: str = 'sigmoid') -> torch.Tensor:
    """``E[c] = min_ch + group_size * sum_k P(group k kept)``."""
    return groups.min_ch + groups.group_size * marginals(alpha, kind).sum()


def channel_scale(groups: ChannelGroups, alpha: torch.Tensor,
                  kind: str = 'sigmoid') -> torch.Tensor:
    """Per-channel factor of the architecture forward: 1 on the mandatory
    channels, each group's marginal on its channels."""
    ones = alpha.new_ones(groups.min_ch)
    per_group = marginals(alpha, kind).repeat_interleave(groups.group_size)
    return torch.cat([ones, per_group])


def direct_sample(groups: ChannelGroups, alpha: torch.Tensor, rng,
                  kind: str = 'sigmoid') -> int:
    """Walk the chain: keep group k while ``U(0, 1) <= p_k``."""
    probs = keep_probabilities(alpha.detach(), kind).tolist()
    kept = 0
    for p in probs:
        if rng.random() > p:
            break
        kept += 1
    return groups.width(kept)
