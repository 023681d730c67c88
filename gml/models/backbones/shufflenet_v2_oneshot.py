"""ShuffleNetV2 one-shot supernet (Single Path One-Shot search space).

Twenty choice blocks, each holding four candidate units (ShuffleNetV2 units
with a 3x3, 5x5 or 7x7 depthwise conv, and the Xception-like unit with three
3x3 depthwise convs). One path runs per forward: only the chosen unit of
each block computes, so the others receive no gradient (algorithms.md §1.7).
"""
import copy
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from ...space import (Categorical, Space, build_search_space_recur,
                      default_of, validate_tree)
from ..ops import DropPath, check_drop_ratio
from .base import SliceBackbone
from .static import StaticBackbone, forward_stages

KEY = 'backbone.search_space'

#: Candidate names, in the order the choice blocks hold them.
CANDIDATES = ('shuffle_3x3', 'shuffle_5x5', 'shuffle_7x7', 'xception')


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int,
             momentum: float, depthwise: bool = False,
             relu: bool = False) -> List[nn.Module]:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2,
                        groups=c_in if depthwise else 1, bias=False),
              nn.BatchNorm2d(c_out, momentum=momentum)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


class ShuffleCandidate(nn.Module):
    """One candidate unit: a main branch beside a passthrough/projection.

    Stride 1: the input's even channels pass through, its odd channels feed
    the main branch (input ``c/2``, output ``c_out - c/2``), and the two are
    concatenated. Stride 2: the whole input feeds both the main branch
    (output ``c_out - c_in``) and a projection branch (depthwise ``k x k``
    stride 2 + BN, 1x1 + BN + ReLU, keeping ``c_in`` channels).

    ``kind`` is ``'shuffle'`` (1x1 -> depthwise k x k -> 1x1) or
    ``'xception'`` (three depthwise 3x3 + 1x1 pairs); mid width is
    ``c_out // 2``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, kind: str,
                 kernel: int = 3, momentum: float = 0.1,
                 drop_path: Optional[DropPath] = None):
        super().__init__()
        self.stride = stride
        self.drop_path = drop_path or DropPath(0.0)
        branch_in = c_in // 2 if stride == 1 else c_in
        branch_out = c_out - branch_in
        mid = c_out // 2
        if kind == 'shuffle':
            main = (_conv_bn(branch_in, mid, 1, 1, momentum, relu=True)
                    + _conv_bn(mid, mid, kernel, stride, momentum,
                               depthwise=True)
                    + _conv_bn(mid, branch_out, 1, 1, momentum, relu=True))
        else:
            main = (_conv_bn(branch_in, branch_in, 3, stride, momentum,
                             depthwise=True)
                    + _conv_bn(branch_in, mid, 1, 1, momentum, relu=True)
                    + _conv_bn(mid, mid, 3, 1, momentum, depthwise=True)
                    + _conv_bn(mid, mid, 1, 1, momentum, relu=True)
                    + _conv_bn(mid, mid, 3, 1, momentum, depthwise=True)
                    + _conv_bn(mid, branch_out, 1, 1, momentum, relu=True))
        self.main = nn.Sequential(*main)
        self.proj = None
        if stride == 2:
            self.proj = nn.Sequential(
                *_conv_bn(c_in, c_in, kernel, 2, momentum, depthwise=True),
                *_conv_bn(c_in, c_in, 1, 1, momentum, relu=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            keep, x = x[:, 0::2], x[:, 1::2]
            return torch.cat((keep, self.drop_path(self.main(x))), 1)
        return torch.cat((self.proj(x), self.main(x)), 1)


class ChoiceBlock(nn.Module):
    """Holds every candidate unit; runs only the one named by ``chosen``."""

    def __init__(self, candidates: Dict[str, nn.Module],
                 chosen: str = CANDIDATES[0]):
        super().__init__()
        self.candidates = nn.ModuleDict(candidates)
        self.chosen = chosen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.candidates[self.chosen](x)


StaticShuffleNet = StaticBackbone  # the exported form of this backbone


@MODELS.register_module()
# the guide's class name, kept as it is
class ShuffleNetV2_OneShot(SliceBackbone):  # noqa: N801
    """SPOS ShuffleNetV2 supernet: 20 blocks x 4 candidate units.

    Search-space key:

    * ``choices``: a list of one entry per choice block (20 by default),
      each a ``Categorical`` over some of ``shuffle_3x3``, ``shuffle_5x5``,
      ``shuffle_7x7``, ``xception`` or a fixed name; default: every block a
      ``Categorical`` over all four with default ``shuffle_3x3``.

    Architecture (the SPOS 1.0x widths ``[-1, 16, 64, 160, 320, 640,
    1024]``): a 3x3 stride-2 stem conv to ``stem_channels`` (16, no
    max-pool), four stages of ``stage_repeats`` (4, 4, 8, 4) blocks with
    widths ``stage_channels`` (64, 160, 320, 640), the first block of each
    with stride 2, then (``with_last_layer``) a 1x1 conv to
    ``last_channels`` (1024). Layer indices for ``out_indices``: 0..3 the
    stages, 4 the last conv; the default is the deepest layer.

    ``drop_path_ratio`` drops the main branch of stride-1 units (block ``i``
    of ``n`` at ``ratio * i / n``; see :meth:`set_drop_path`).
    ``min_subnet``/``max_subnet`` follow the spaces' order, here
    alphabetical (``shuffle_3x3`` first, ``xception`` last).
    ``drop_zero_grads()`` applies the SPOS rule: a gradient summing to 0 is
    set to None so momentum and weight decay leave unused units alone.
    """

    def __init__(self,
                 search_space: Optional[dict] = None,
                 stem_channels: int = 16,
                 stage_channels: Sequence[int] = (64, 160, 320, 640),
                 stage_repeats: Sequence[int] = (4, 4, 8, 4),
                 last_channels: int = 1024,
                 with_last_layer: bool = True,
                 in_channels: int = 3,
                 out_indices: Optional[Sequence[int]] = None,
                 drop_path_ratio: float = 0.0,
                 bn_momentum: float = 0.1,
                 frozen_stages: int = -1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if len(stage_channels) != len(stage_repeats):
            raise ConfigError('backbone.stage_channels: expected one width '
                              f'per stage ({len(stage_repeats)}), found '
                              f'{stage_channels!r}')
        if any(c % 2 for c in stage_channels):
            raise ConfigError('backbone.stage_channels: widths must be even '
                              f'(channel split), found {stage_channels!r}')
        self.drop_path_ratio = check_drop_ratio(drop_path_ratio,
                                                'backbone.drop_path_ratio')
        num_layers = len(stage_repeats) + int(with_last_layer)
        if out_indices is None:
            out_indices = (num_layers - 1,)
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < num_layers
                                  for i in out_indices):
            raise ConfigError(f'backbone.out_indices: expected indices in '
                              f'0..{num_layers - 1}, found {out_indices!r}')
        self.out_indices = out_indices
        self.bn_momentum = bn_momentum
        self.frozen_stages = frozen_stages
        self.num_blocks = sum(stage_repeats)
        self.search_space = self._build_space(search_space or {})

        self.stem = nn.Sequential(*_conv_bn(in_channels, stem_channels, 3, 2,
                                            bn_momentum, relu=True))
        self.layers = nn.ModuleList()
        c_in, index = stem_channels, 0
        widths = []
        for width, repeats in zip(stage_channels, stage_repeats):
            blocks = []
            for b in range(repeats):
                stride = 2 if b == 0 else 1
                blocks.append(ChoiceBlock(self._candidates(
                    c_in, width, stride, index / self.num_blocks)))
                c_in, index = width, index + 1
            self.layers.append(nn.Sequential(*blocks))
            widths.append(width)
        if with_last_layer:
            self.layers.append(nn.Sequential(*_conv_bn(
                c_in, last_channels, 1, 1, bn_momentum, relu=True)))
            widths.append(last_channels)
        self.widths = tuple(widths)
        self._init_weights()
        self._freeze()
        self._active: Dict[str, Any] = {}
        self.set_subnet(default_of(self.search_space))

    # -- the search space ---------------------------------------------------
    def _build_space(self, search_space: dict) -> dict:
        if not isinstance(search_space, dict):
            raise ConfigError(f'{KEY}: expected a dict, found '
                              f'{search_space!r}')
        unknown = [k for k in search_space if k != 'choices']
        if unknown:
            raise ConfigError(f"{KEY}.{unknown[0]}: unknown key; expected "
                              f"'choices'")
        n = self.num_blocks
        choices = search_space.get('choices', [
            dict(type='Categorical', data=list(CANDIDATES),
                 default=CANDIDATES[0]) for _ in range(n)])
        if not isinstance(choices, (list, tuple)) or len(choices) != n:
            raise ConfigError(f'{KEY}.choices: expected a list of {n} '
                              f'entries (one per choice block), found '
                              f'{choices!r}')
        tree = build_search_space_recur(dict(choices=choices), key=KEY)
        for i, node in enumerate(tree['choices']):
            key = f'{KEY}.choices[{i}]'
            if isinstance(node, Space):
                if not isinstance(node, Categorical):
                    raise ConfigError(f'{key}: expected a Categorical over '
                                      f'{list(CANDIDATES)}, found {node!r}')
                names = node.grid()
            else:
                names = [node]
            for name in names:
                if name not in CANDIDATES:
                    raise ConfigError(f'{key}: unknown block choice '
                                      f'{name!r}; expected one of '
                                      f'{list(CANDIDATES)}')
        return tree

    @property
    def active_subnet(self) -> dict:
        return dict(choices=list(self._active['choices']))

    # -- building -----------------------------------------------------------
    def _candidates(self, c_in: int, c_out: int, stride: int,
                    share: float) -> Dict[str, nn.Module]:
        m = self.bn_momentum

        def drop():
            return DropPath(share, self.drop_path_ratio)

        units = {f'shuffle_{k}x{k}': ShuffleCandidate(
            c_in, c_out, stride, 'shuffle', k, m, drop()) for k in (3, 5, 7)}
        units['xception'] = ShuffleCandidate(c_in, c_out, stride, 'xception',
                                             3, m, drop())
        return units

    def _stem_and_stages(self):
        return self.stem, self.layers

    def _blocks(self) -> List[ChoiceBlock]:
        return [m for m in self.modules() if isinstance(m, ChoiceBlock)]

    # -- the active path ----------------------------------------------------
    def set_subnet(self, config: dict) -> None:
        """Choose the unit of every block: ``dict(choices=[name, ...])``."""
        config = validate_tree(self.search_space, config, key=KEY)
        for block, name in zip(self._blocks(), config['choices']):
            block.chosen = name
        self._active = dict(choices=list(config['choices']))

    def drop_zero_grads(self) -> None:
        """Set every gradient that sums to 0 to None (the SPOS rule)."""
        for p in self.parameters():
            if p.grad is not None and p.grad.sum() == 0:
                p.grad = None

    @property
    def feat_dim(self) -> int:
        """Width of the deepest output (1024 with the last layer)."""
        return self.widths[max(self.out_indices)]

    def forward(self, x: torch.Tensor) -> tuple:
        return forward_stages(x, self.stem, self.layers, self.out_indices)

    # -- export -------------------------------------------------------------
    def to_static(self) -> StaticShuffleNet:
        """The active path: each block replaced by a copy of its chosen unit.

        Its output equals the supernet's exactly (eval mode).
        """
        layers = []
        for layer in self.layers:
            if isinstance(layer[0], ChoiceBlock):
                layers.append(nn.Sequential(*[
                    copy.deepcopy(block.candidates[block.chosen])
                    for block in layer]))
            else:
                layers.append(copy.deepcopy(layer))
        static = StaticShuffleNet(copy.deepcopy(self.stem), layers,
                                  self.out_indices, self.widths)
        static.train(self.training)
        return static


__all__ = ['ShuffleNetV2_OneShot', 'ShuffleCandidate', 'ChoiceBlock',
           'StaticShuffleNet', 'CANDIDATES']
