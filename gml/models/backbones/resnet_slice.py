"""ResNet supernet: searchable stem width, stage widths and stage depths.

The supernet holds the weights of the largest network its search space
allows and runs any subnet on their leading slices (algorithms.md §1.1):
each stage runs its first ``d`` blocks, block 0 carries the stride and the
channel change.
"""
import copy
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp

from ...errors import ConfigError
from ...registry import MODELS
from ...space import (Categorical, Int, Space, build_search_space_recur,
                      validate_tree)
from ...utils.checks import check_int
from ..ops import BatchNorm2dSlice, Conv2dSlice, DropPath, check_drop_ratio
from .base import SliceBackbone
from .static import StaticBackbone

KEY = 'backbone.search_space'

#: depth -> (block kind, blocks per stage)
ARCH = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
}
DEFAULT_WIDTHS = {
    'basic': (64, 128, 256, 512),
    'bottleneck': (256, 512, 1024, 2048),
}
EXPANSION = {'basic': 1, 'bottleneck': 4}


def int_choices(node: Any, key: str) -> List[int]:
    """The positive integers a search-space leaf can take (ConfigError)."""
    if isinstance(node, Space):
        if not isinstance(node, (Categorical, Int)):
            raise ConfigError(f'{key}: expected a Categorical or Int space '
                              f'of integers, found {node!r}')
        values = node.grid()
    else:
        values = [node]
    for value in values:
        check_int(value, key, 1)
    return values


class ResidualBlock(nn.Module):
    """A residual block: a conv-BN chain plus an identity or 1x1 shortcut.

    ``convs``/``bns`` form the main branch (ReLU after every BN but the
    last); BasicBlock has two 3x3 convs, Bottleneck 1x1-3x3-1x1. The same
    class runs slice ops (supernet) and plain ops (exported subnet).
    ``drop_path`` drops the main branch (none when None).
    """

    def __init__(self, convs: Sequence[nn.Module], bns: Sequence[nn.Module],
                 shortcut: Optional[nn.Module] = None,
                 drop_path: Optional[DropPath] = None,
                 with_cp: bool = False, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.convs = nn.ModuleList(convs)
        self.bns = nn.ModuleList(bns)
        self.shortcut = shortcut
        self.drop_path = drop_path or DropPath(0.0)
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        last = len(self.convs) - 1
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            out = bn(conv(out))
            if i < last:
                out = F.relu(out, inplace=True)
        out = self.drop_path(out)
        # the projection runs only where it is needed: a stride, or widths
        # that differ in the active subnet (equal widths: identity)
        if self.shortcut is None or (self.stride == 1 and
                                     x.shape[1] == out.shape[1]):
            identity = x
        else:
            identity = self.shortcut(x)
        return out + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and self.training and x.requires_grad:
            out = cp.checkpoint(self._forward, x, use_reentrant=False)
        else:
            out = self._forward(x)
        return F.relu(out)


StaticResNet = StaticBackbone  # the exported form of this backbone


@MODELS.register_module()
class ResNetSlice(SliceBackbone):
    """ResNet-18/34/50/101 supernet with searchable widths and depths.

    Search-space keys (each value a space dict or a fixed int; the lists
    hold ``num_stages`` entries):

    * ``stem_channels``: stem conv width (default 64).
    * ``stage_out_channel``: output width of each stage (default
      64/128/256/512 for BasicBlock, 256/512/1024/2048 for Bottleneck). A
      Bottleneck's inner width ``planes`` is derived as ``out // 4``, so its
      widths must be multiples of 4.
    * ``stage_blocks``: active blocks per stage, at most the depth's count
      (18: 2,2,2,2; 34 and 50: 3,4,6,3; 101: 3,4,23,3), which is also the
      default and the number of blocks built.

    Weights are allocated for the largest value of every space. Block 0 of a
    stage has a 1x1-conv + BN shortcut when its stride is not 1 or its input
    and output widths are not the same fixed value; the shortcut is sliced
    with the stage width, and a subnet whose active widths are equal (at
    stride 1) uses the identity instead, as its exported form does.
    Bottleneck is torchvision style (stride on the 3x3) for
    ``style='pytorch'``, on the first 1x1 for ``style='caffe'``.

    Other args: ``cifar_stem`` (3x3 stride-1 stem conv, no max-pool),
    ``zero_init_residual`` (last BN gamma of each block starts at 0),
    ``drop_path_ratio`` (stochastic depth on the residual branch of block
    ``i`` of ``n`` at ``ratio * i / n``; see :meth:`set_drop_path` and the
    BigNAS rule in docs/nas.md), ``bn_momentum``, ``bn_eval``
    (BN layers stay in eval mode during training; default False, unlike the
    detection-oriented guide snippet, so a supernet trains its BN
    statistics), ``bn_frozen`` (BN affine parameters not trained),
    ``frozen_stages`` (-1: none; k >= 0 freezes the stem and the first k
    stages), ``with_cp`` (gradient checkpointing per block).
    """

    def __init__(self,
                 depth: int,
                 search_space: Optional[dict] = None,
                 num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 style: str = 'pytorch',
                 frozen_stages: int = -1,
                 bn_eval: bool = False,
                 bn_frozen: bool = False,
                 with_cp: bool = False,
                 in_channels: int = 3,
                 cifar_stem: bool = False,
                 zero_init_residual: bool = True,
                 drop_path_ratio: float = 0.0,
                 bn_momentum: float = 0.1,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if depth not in ARCH:
            raise ConfigError(f'backbone.depth: expected one of '
                              f'{sorted(ARCH)}, found {depth!r}')
        if not isinstance(num_stages, int) or not 1 <= num_stages <= 4:
            raise ConfigError(f'backbone.num_stages: expected 1..4, found '
                              f'{num_stages!r}')
        for name, value in (('strides', strides), ('dilations', dilations)):
            if len(value) != num_stages:
                raise ConfigError(f'backbone.{name}: expected {num_stages} '
                                  f'values (num_stages), found {value!r}')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < num_stages
                                  for i in out_indices):
            raise ConfigError(f'backbone.out_indices: expected indices in '
                              f'0..{num_stages - 1}, found {out_indices!r}')
        if style not in ('pytorch', 'caffe'):
            raise ConfigError(f"backbone.style: expected 'pytorch' or "
                              f"'caffe', found {style!r}")
        self.drop_path_ratio = check_drop_ratio(drop_path_ratio,
                                                'backbone.drop_path_ratio')
        self.depth = depth
        self.kind, built = ARCH[depth]
        self.built_blocks = tuple(built[:num_stages])
        self.num_stages = num_stages
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.out_indices = out_indices
        self.style = style
        self.frozen_stages = frozen_stages
        self.bn_eval = bn_eval
        self.bn_frozen = bn_frozen
        self.with_cp = with_cp
        self.cifar_stem = cifar_stem
        self.zero_init_residual = zero_init_residual
        self.bn_momentum = bn_momentum

        self.search_space = self._build_space(search_space or {})
        space = self.search_space
        stem_max = max(int_choices(space['stem_channels'],
                                   f'{KEY}.stem_channels'))
        width_max = [max(self._width_choices(i)) for i in range(num_stages)]
        self._check_depths()

        self._build_stem(in_channels, stem_max)
        self._build_stages(space, stem_max, width_max)
        self._init_weights(zero_init_residual)
        self._freeze()
        self._active: Dict[str, Any] = {}
        self.set_subnet(self.max_subnet())

    # -- the search space ---------------------------------------------------
    def _build_space(self, search_space: dict) -> dict:
        if not isinstance(search_space, dict):
            raise ConfigError(f'{KEY}: expected a dict, found '
                              f'{search_space!r}')
        known = ('stem_channels', 'stage_out_channel', 'stage_blocks')
        unknown = [k for k in search_space if k not in known]
        if unknown:
            raise ConfigError(f'{KEY}.{unknown[0]}: unknown key; expected '
                              f'some of {list(known)}')
        n = self.num_stages
        cfg = dict(stem_channels=search_space.get('stem_channels', 64),
                   stage_out_channel=search_space.get(
                       'stage_out_channel', DEFAULT_WIDTHS[self.kind][:n]),
                   stage_blocks=search_space.get('stage_blocks',
                                                 self.built_blocks))
        for name in ('stage_out_channel', 'stage_blocks'):
            value = cfg[name]
            if not isinstance(value, (list, tuple)) or len(value) != n:
                raise ConfigError(f'{KEY}.{name}: expected a list of {n} '
                                  f'values (num_stages), found {value!r}')
        return build_search_space_recur(cfg, key=KEY)

    def _width_choices(self, stage: int) -> List[int]:
        key = f'{KEY}.stage_out_channel[{stage}]'
        values = int_choices(self.search_space['stage_out_channel'][stage],
                             key)
        if self.kind == 'bottleneck':
            bad = [v for v in values if v % EXPANSION['bottleneck']]
            if bad:
                raise ConfigError(f'{key}: Bottleneck widths must be '
                                  f'multiples of 4 (planes = out // 4), '
                                  f'found {bad[0]}')
        return values

    def _check_depths(self) -> None:
        for i, built in enumerate(self.built_blocks):
            key = f'{KEY}.stage_blocks[{i}]'
            values = int_choices(self.search_space['stage_blocks'][i], key)
            if max(values) > built:
                raise ConfigError(f'{key}: depth {max(values)} > the {built} '
                                  f'blocks ResNet-{self.depth} builds in '
                                  f'stage {i}')

    @property
    def active_subnet(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self._active.items()}

    # -- building -----------------------------------------------------------
    def _bn(self, channels: int) -> BatchNorm2dSlice:
        return BatchNorm2dSlice(channels, momentum=self.bn_momentum)

    def _build_stem(self, in_channels: int, stem_max: int) -> None:
        if self.cifar_stem:
            conv = Conv2dSlice(in_channels, stem_max, 3, stride=1)
            self.stem = nn.Sequential(conv, self._bn(stem_max),
                                      nn.ReLU(inplace=True))
        else:
            conv = Conv2dSlice(in_channels, stem_max, 7, stride=2)
            self.stem = nn.Sequential(
                conv, self._bn(stem_max), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def _make_block(self, c_in: int, c_out: int, stride: int, dilation: int,
                    projection: bool, drop_share: float) -> ResidualBlock:
        if self.kind == 'basic':
            convs = [Conv2dSlice(c_in, c_out, 3, stride=stride,
                                 dilation=dilation),
                     Conv2dSlice(c_out, c_out, 3, dilation=dilation)]
            bns = [self._bn(c_out), self._bn(c_out)]
        else:
            mid = c_out // EXPANSION['bottleneck']
            s1, s3 = (1, stride) if self.style == 'pytorch' else (stride, 1)
            convs = [Conv2dSlice(c_in, mid, 1, stride=s1),
                     Conv2dSlice(mid, mid, 3, stride=s3, dilation=dilation),
                     Conv2dSlice(mid, c_out, 1)]
            bns = [self._bn(mid), self._bn(mid), self._bn(c_out)]
        shortcut = None
        if projection:
            shortcut = nn.Sequential(Conv2dSlice(c_in, c_out, 1,
                                                 stride=stride),
                                     self._bn(c_out))
        return ResidualBlock(convs, bns, shortcut,
                             DropPath(drop_share, self.drop_path_ratio),
                             self.with_cp, stride=stride)

    def _build_stages(self, space: dict, stem_max: int,
                      width_max: List[int]) -> None:
        total = sum(self.built_blocks)
        index = 0
        self.stages = nn.ModuleList()
        # The fixed width feeding the next stage (None when searchable).
        in_fixed = space['stem_channels'] if isinstance(
            space['stem_channels'], int) else None
        c_in = stem_max
        for s, built in enumerate(self.built_blocks):
            width = space['stage_out_channel'][s]
            out_fixed = width if isinstance(width, int) else None
            blocks = []
            for b in range(built):
                stride = self.strides[s] if b == 0 else 1
                projection = b == 0 and (stride != 1 or in_fixed is None
                                         or in_fixed != out_fixed)
                blocks.append(self._make_block(
                    c_in if b == 0 else width_max[s], width_max[s], stride,
                    self.dilations[s], projection, index / total))
                index += 1
            self.stages.append(nn.Sequential(*blocks))
            c_in, in_fixed = width_max[s], out_fixed

    def _residual_norms(self) -> List[nn.Module]:
        return [block.bns[-1] for stage in self.stages for block in stage]

    def _stem_and_stages(self):
        return self.stem, self.stages

    # -- the active subnet --------------------------------------------------
    def set_subnet(self, config: dict) -> None:
        """Activate the subnet ``config`` (same structure as the space)."""
        config = validate_tree(self.search_space, config, key=KEY)
        self.stem[0].set_active(out_channels=config['stem_channels'])
        for s, stage in enumerate(self.stages):
            width = config['stage_out_channel'][s]
            mid = width // EXPANSION[self.kind]
            for block in stage:
                for conv in block.convs[:-1]:
                    conv.set_active(out_channels=mid)
                block.convs[-1].set_active(out_channels=width)
                if block.shortcut is not None:
                    block.shortcut[0].set_active(out_channels=width)
        self._active = dict(
            stem_channels=config['stem_channels'],
            stage_out_channel=list(config['stage_out_channel']),
            stage_blocks=list(config['stage_blocks']))

    @property
    def feat_dim(self) -> int:
        """Active width of the deepest output (the last stage by default)."""
        return self._active['stage_out_channel'][max(self.out_indices)]

    def forward(self, x: torch.Tensor) -> tuple:
        x = self.stem(x)
        outs = []
        last = max(self.out_indices)
        for s, stage in enumerate(self.stages):
            if s > last:
                break
            for block in stage[:self._active['stage_blocks'][s]]:
                x = block(x)
            if s in self.out_indices:
                outs.append(x)
        return tuple(outs)

    # -- export -------------------------------------------------------------
    @staticmethod
    def _static_block(block: ResidualBlock, c_in: int, mid: int,
                      width: int) -> ResidualBlock:
        convs, bns = [], []
        widths_in = [c_in] + [mid] * (len(block.convs) - 1)
        widths_out = [mid] * (len(block.convs) - 1) + [width]
        for conv, bn, w_in, w_out in zip(block.convs, block.bns, widths_in,
                                         widths_out):
            convs.append(conv.to_static(in_channels=w_in))
            bns.append(bn.to_static(num_features=w_out))
        shortcut = None
        if block.shortcut is not None and (block.stride != 1 or
                                           c_in != width):
            shortcut = nn.Sequential(
                block.shortcut[0].to_static(in_channels=c_in),
                block.shortcut[1].to_static(num_features=width))
        static = ResidualBlock(convs, bns, shortcut,
                               copy.deepcopy(block.drop_path), block.with_cp,
                               stride=block.stride)
        static.train(block.training)
        return static

    def to_static(self) -> StaticResNet:
        """The active subnet as plain ``nn.Conv2d``/``nn.BatchNorm2d`` ops.

        Its output equals the supernet's exactly (eval mode).
        """
        cfg = self._active
        stem_w = cfg['stem_channels']
        stem = [self.stem[0].to_static(in_channels=self.stem[0].in_channels),
                self.stem[1].to_static(num_features=stem_w)]
        stem += [type(m)(**_module_args(m)) for m in self.stem[2:]]
        stages, c_in = [], stem_w
        for s, stage in enumerate(self.stages):
            width = cfg['stage_out_channel'][s]
            mid = width // EXPANSION[self.kind]
            blocks = []
            for b, block in enumerate(stage[:cfg['stage_blocks'][s]]):
                blocks.append(self._static_block(
                    block, c_in if b == 0 else width, mid, width))
            stages.append(nn.Sequential(*blocks))
            c_in = width
        static = StaticResNet(nn.Sequential(*stem), stages, self.out_indices,
                              cfg['stage_out_channel'])
        static.train(self.training)
        return static


def _module_args(module: nn.Module) -> dict:
    """Constructor arguments of the parameter-free stem modules."""
    if isinstance(module, nn.ReLU):
        return dict(inplace=module.inplace)
    if isinstance(module, nn.MaxPool2d):
        return dict(kernel_size=module.kernel_size, stride=module.stride,
                    padding=module.padding)
    raise TypeError(f'unexpected stem module {module!r}')


__all__ = ['ResNetSlice', 'ResidualBlock', 'StaticResNet', 'int_choices']
