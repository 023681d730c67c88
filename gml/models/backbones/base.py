"""What every slice backbone shares: subnet configurations derived from
its search space, weight init, freezing and drop-path."""
from typing import List, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule

from ...errors import ConfigError
from ...space import map_spaces, sample_of
from ..ops import DropPath, check_drop_ratio


class SubnetSpaceMixin:
    """Subnet configurations of ``self.search_space``: the largest, the
    smallest, and seeded random ones (same structure as the space)."""

    def max_subnet(self) -> dict:
        """The configuration of every space's largest value."""
        return map_spaces(self.search_space, lambda s: s.max)

    def min_subnet(self) -> dict:
        """The configuration of every space's smallest value."""
        return map_spaces(self.search_space, lambda s: s.min)

    def random_subnet(self, seed=None) -> dict:
        """A random configuration; the same seed gives the same one."""
        return sample_of(self.search_space, seed)


class SliceBackbone(SubnetSpaceMixin, BaseModule):
    """Base of the slice backbones (it follows
    :class:`gml.space.SupernetBackbone` once a subclass adds
    ``search_space`` and ``set_subnet``).

    Shared scaffolding, driven by attributes a subclass sets:

    * ``drop_path_ratio``: every residual branch holds a :class:`DropPath`
      whose ``share`` the subclass chooses (its schedule);
      :meth:`set_drop_path` scales them all. A backbone drops at its own
      ratio from construction; an algorithm may set another (BigNAS: its
      ``drop_path_ratio`` for the max subnet, 0 for the others).
    * ``frozen_stages`` (-1: none; k >= 0: the stem and the first k stages,
      see :meth:`_stem_and_stages`) have no gradients and stay in eval
      mode; ``bn_eval`` keeps every BN in eval mode during training;
      ``bn_frozen`` freezes every BN's affine parameters.
    * :meth:`_init_weights`: Kaiming-normal convs (fan-out), BN weight 1
      and bias 0, and with ``zero_init_residual`` the last BN of every
      residual branch (:meth:`_residual_norms`) at 0.
    """

    drop_path_ratio = 0.0
    frozen_stages = -1
    bn_eval = False
    bn_frozen = False

    # -- drop-path ----------------------------------------------------------
    def set_drop_path(self, ratio: float) -> None:
        """Drop residual branches at ``ratio`` (each block at ``ratio``
        times its share) from now on; 0 switches drop-path off."""
        ratio = check_drop_ratio(ratio, f'{type(self).__name__}.'
                                 'set_drop_path')
        for module in self.modules():
            if isinstance(module, DropPath):
                module.set_ratio(ratio)

    # -- weights ------------------------------------------------------------
    def _residual_norms(self) -> List[nn.Module]:
        """The last BN of every residual branch (zero_init_residual)."""
        return []

    def _init_weights(self, zero_init_residual: bool = False) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out',
                                        nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for bn in self._residual_norms():
                nn.init.zeros_(bn.weight)

    # -- freezing -----------------------------------------------------------
    def _stem_and_stages(self) -> Tuple[nn.Module, Sequence[nn.Module]]:
        """The stem and the stages, in order, that ``frozen_stages``
        counts (a backbone without stages accepts only -1)."""
        raise ConfigError(f'backbone.frozen_stages: {type(self).__name__} '
                          'has no stages to freeze; expected -1, found '
                          f'{self.frozen_stages!r}')

    def _frozen_parts(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        stem, stages = self._stem_and_stages()
        return [stem] + list(stages[:self.frozen_stages])

    def _freeze(self) -> None:
        for part in self._frozen_parts():
            for p in part.parameters():
                p.requires_grad = False
        if self.bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    for p in m.parameters():
                        p.requires_grad = False

    def train(self, mode: bool = True) -> 'SliceBackbone':
        super().train(mode)
        if mode:
            for part in self._frozen_parts():
                part.eval()
            if self.bn_eval:
                for m in self.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
        return self
