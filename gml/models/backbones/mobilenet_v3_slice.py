"""MobileNetV3-style BigNAS/AttentiveNAS supernet (algorithms.md §1.2).

Layout: first conv (3x3, stride 2) -> seven inverted-residual stages
(mb1..mb7) -> last conv, which is the MobileNetV3 head: a 1x1 "final expand"
conv to ``expand x`` the last stage width (BN, activation), global average
pooling, then a 1x1 "feature mix" conv to 1792/1984 channels (activation, no
BN). The backbone therefore returns a ``(N, C, 1, 1)`` map; mmpretrain's
``GlobalAveragePooling`` neck flattens it.

FLOPs convention this layout reproduces (algorithms.md §1.6): every block has
a shortcut path; it is the identity when the active widths are equal and the
stride is 1, otherwise the input is average-pooled to the output size (no
MACs) and, when the widths differ, projected by a 1x1 conv, also in stride-2
blocks. The hidden width of a block is ``make_divisible(round(c_in * e), 8)``
(``c_in`` when the stage has no expand conv) and SE runs at
``make_divisible(hidden // 4, 8)``.
"""
import copy
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from ...registry import MODELS
from ...space import Space, build_search_space_recur, validate_tree
from ...utils.checks import check_int, check_number
from ..ops import (BatchNorm2dSlice, Conv2dSlice, DropPath,
                   SqueezeExciteSlice, check_drop_ratio, make_divisible)
from .base import SliceBackbone

KEY = 'backbone.search_space'
SPACE_KEYS = ('MB_stage_blocks', 'MB_kernel_size', 'MB_expand_ratio',
              'MB_out_channels')
ACTIVATIONS = {'Swish': nn.SiLU, 'SiLU': nn.SiLU, 'HSwish': nn.Hardswish,
               'Hardswish': nn.Hardswish, 'ReLU': nn.ReLU, 'ReLU6': nn.ReLU6}


def _cat(data, default=None):
    cfg = dict(type='Categorical', data=list(data))
    if default is not None:
        cfg['default'] = default
    return cfg


def _int(lower, upper, step=1):
    return dict(type='Int', lower=lower, upper=upper, step=step)


#: The AttentiveNAS/BigNAS space: first conv, mb1..mb7, last conv.
DEFAULT_SEARCH_SPACE = dict(
    MB_stage_blocks=[_cat([1]), _int(1, 3), _int(3, 6), _int(3, 7),
                     _int(3, 7), _int(3, 9), _int(3, 9), _int(1, 3),
                     _cat([1])],
    MB_kernel_size=[_cat([3])] + [_cat([3, 5])] * 7 + [_cat([1])],
    MB_expand_ratio=[_cat([1]), _cat([1])] + [_cat([4, 5, 6])] * 4 +
    [_cat([6]), _cat([6]), _cat([6])],
    MB_out_channels=[_cat([16, 24], 16), _cat([16, 24]), _cat([24, 32]),
                     _cat([32, 40]), _cat([64, 72]), _cat([112, 120, 128]),
                     _int(192, 217, 8), _cat([216, 224]),
                     _cat([1792, 1984], 1984)])

#: Stride and SE of mb1..mb7.
DEFAULT_STRIDES = (1, 2, 2, 2, 1, 2, 1)
DEFAULT_SE = (False, False, True, False, True, True, True)


def _choices(node: Any) -> List[Any]:
    return node.grid() if isinstance(node, Space) else [node]


def _max(node: Any) -> Any:
    return node.max if isinstance(node, Space) else node


def _check_ints(node: Any, key: str, minimum: int = 1) -> List[int]:
    values = _choices(node)
    for v in values:
        check_int(v, key, minimum)
    return values


def hidden_width(c_in: int, expand: float, has_expand: bool) -> int:
    """The hidden width of an inverted residual block."""
    if not has_expand:
        return c_in
    return make_divisible(round(c_in * expand), 8)


def _act(act_cfg: dict) -> nn.Module:
    return ACTIVATIONS[act_cfg['type']]()


class InvertedResidual(nn.Module):
    """MBConv block: [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 project.

    Expand and depthwise convs are followed by BN and the activation, the
    projection by BN only. The shortcut is the identity when input and
    output widths match and the stride is 1; otherwise the input is
    average-pooled (ceil mode) to the output size and, if widths differ,
    projected by ``proj`` (a 1x1 conv). The same class runs slice ops
    (supernet) and plain ops (exported subnet). ``drop_path`` hits the main
    branch of identity-shortcut blocks in training (none when None).
    """

    def __init__(self, expand: Optional[nn.Module], depthwise: nn.Module,
                 se: Optional[nn.Module], project: nn.Module,
                 proj: Optional[nn.Module], stride: int,
                 drop_path: Optional[DropPath] = None):
        super().__init__()
        self.expand = expand
        self.depthwise = depthwise
        self.se = se
        self.project = project
        self.proj = proj
        self.stride = stride
        self.drop_path = drop_path or DropPath(0.0)

    def shortcut(self, x: torch.Tensor, c_out: int) -> torch.Tensor:
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride, self.stride, ceil_mode=True)
        if x.shape[1] != c_out:
            if self.proj is None:
                raise ValueError(f'{type(self).__name__}: no projection for '
                                 f'{x.shape[1]} -> {c_out} channels')
            x = self.proj(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.depthwise(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        identity = self.stride == 1 and x.shape[1] == out.shape[1]
        if identity:
            out = self.drop_path(out)
        return out + (x if identity else self.shortcut(x, out.shape[1]))


class MobileNetV3Subnet(nn.Module):
    """A static subnet exported by :meth:`MobileNetV3Slice.to_static`.

    Plain torch modules only (``SqueezeExcite`` is two ``nn.Conv2d``);
    ``forward`` returns a one-element tuple like the supernet.
    """

    def __init__(self, first_conv: nn.Module, blocks: Sequence[nn.Module],
                 final_expand: nn.Module, feature_mix: nn.Module):
        super().__init__()
        self.first_conv = first_conv
        self.blocks = nn.Sequential(*blocks)
        self.final_expand = final_expand
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_mix = feature_mix

    def forward(self, x: torch.Tensor):
        x = self.blocks(self.first_conv(x))
        x = self.pool(self.final_expand(x))
        return (self.feature_mix(x), )


@MODELS.register_module()
class MobileNetV3Slice(SliceBackbone):
    """BigNAS supernet with a MobileNetV3-style search space.

    Args:
        search_space: dict with lists ``MB_stage_blocks``,
            ``MB_kernel_size``, ``MB_expand_ratio``, ``MB_out_channels``,
            one entry per stage: first conv, mb1..mb7, last conv (space dicts
            or plain values). A list of 2 (the design guide's form) gives
            the first and the last conv only; mb1..mb7 then keep their
            :data:`DEFAULT_SEARCH_SPACE` entries. Missing keys take
            :data:`DEFAULT_SEARCH_SPACE`; None gives the whole default.
            First/last conv depth must be 1, the first conv's expand ratio
            1; the last conv's expand ratio
            sets the final-expand width (``e x`` the last stage width) and its
            kernel size that conv's kernel.
        conv_cfg: ``dict(type='Conv2dSlice')`` (the only conv supported).
        act_cfg: activation, ``dict(type='Swish')`` (also HSwish, ReLU).
        stage_strides, stage_se: stride and SE flag of mb1..mb7.
        se_gate: SE gate, ``'hsigmoid'`` or ``'sigmoid'``.
        bn_momentum: momentum of every ``BatchNorm2dSlice``.
        drop_path_ratio: drop-path rate ``ratio * i / n`` for identity-
            shortcut blocks of the last two stages (``i`` the block's index
            among all ``n`` built blocks); on from construction, see
            :meth:`set_drop_path` and the BigNAS rule in docs/nas.md.
        zero_init_residual: start the last BN gamma of every block at 0.
        widen_factor: scales the width choices of the stages mb1..mb7
            (each becomes a Categorical of ``make_divisible(w * f, 8)``;
            e.g. 0.25 turns the default 16..224 into 8..56 for small
            images); the first and the last conv keep their written
            widths.
    """

    def __init__(self, search_space: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 stage_strides: Sequence[int] = DEFAULT_STRIDES,
                 stage_se: Sequence[bool] = DEFAULT_SE,
                 se_gate: str = 'hsigmoid', bn_momentum: float = 0.1,
                 drop_path_ratio: float = 0.0,
                 zero_init_residual: bool = True,
                 widen_factor: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        conv_type = (conv_cfg or dict(type='Conv2dSlice')).get('type')
        if conv_type not in ('Conv2dSlice', 'gml.Conv2dSlice'):
            raise ConfigError(f'backbone.conv_cfg.type: expected '
                              f"'Conv2dSlice', found {conv_type!r}")
        act_cfg = dict(act_cfg or dict(type='Swish'))
        if act_cfg.get('type') not in ACTIVATIONS:
            raise ConfigError(f'backbone.act_cfg.type: expected one of '
                              f'{sorted(ACTIVATIONS)}, found '
                              f'{act_cfg.get("type")!r}')
        self.act_cfg = act_cfg
        self.drop_path_ratio = check_drop_ratio(drop_path_ratio,
                                                'backbone.drop_path_ratio')
        self.strides = [int(s) for s in stage_strides]
        self.use_se = [bool(s) for s in stage_se]
        if len(self.use_se) != len(self.strides):
            raise ConfigError('backbone.stage_se: expected one flag per '
                              f'stage ({len(self.strides)}), found '
                              f'{len(self.use_se)}')
        self.num_stages = len(self.strides)
        self.bn_momentum = bn_momentum
        self.widen_factor = check_number(widen_factor,
                                         'backbone.widen_factor', 0,
                                         strict=True, finite=True)
        self.search_space = self._build_space(search_space)
        self._build(se_gate)
        self._init_weights(zero_init_residual)
        self.set_subnet(self.max_subnet())

    # -- construction ---------------------------------------------------------
    def _build_space(self, search_space: Optional[dict]) -> Dict[str, list]:
        if search_space is None:
            search_space = {}
        if not isinstance(search_space, dict):
            raise ConfigError(f'{KEY}: expected a dict, found '
                              f'{search_space!r}')
        extra = [k for k in search_space if k not in SPACE_KEYS]
        if extra:
            raise ConfigError(f'{KEY}: unknown keys {extra}; expected '
                              f'{list(SPACE_KEYS)}')
        n = self.num_stages + 2
        cfg = {}
        for k in SPACE_KEYS:
            v = search_space.get(k, DEFAULT_SEARCH_SPACE[k])
            if isinstance(v, (list, tuple)) and len(v) == 2 and n != 2:
                v = self._first_last(k, v, n)
            if not isinstance(v, (list, tuple)) or len(v) != n:
                raise ConfigError(f'{KEY}.{k}: expected a list of {n} '
                                  '(first conv, one per stage, last conv) '
                                  'or of 2 (first conv, last conv), '
                                  f'found {v!r}')
            cfg[k] = list(v)
        if self.widen_factor != 1:
            cfg['MB_out_channels'] = self._widen(cfg['MB_out_channels'])
        tree = build_search_space_recur(cfg, key=KEY)
        for i in range(n):
            self._check_entry(tree, i, n)
        return tree

    def _widen(self, entries: list) -> list:
        """``widen_factor`` times the width choices of mb1..mb7 (rounded to
        multiples of 8, at least 8), as Categorical spaces; the first and
        the last conv are kept as written."""
        out = [entries[0]]
        for i, entry in enumerate(entries[1:-1], 1):
            node = build_search_space_recur(
                entry, key=f'{KEY}.MB_out_channels[{i}]')
            scale = lambda v: make_divisible(v * self.widen_factor, 8)  # noqa
            data = sorted({scale(v) for v in _choices(node)})
            default = scale(node.default if isinstance(node, Space)
                            else node)
            out.append(dict(type='Categorical', data=data, default=default))
        return out + [entries[-1]]

    @staticmethod
    def _first_last(key: str, entries: Sequence[Any], n: int) -> list:
        """The design guide's short form: two entries are the first and the
        last conv; the stages between keep :data:`DEFAULT_SEARCH_SPACE`."""
        default = DEFAULT_SEARCH_SPACE[key]
        if len(default) != n:
            raise ConfigError(
                f'{KEY}.{key}: the 2-entry form (first conv, last conv) '
                f'fills the stages from the default {len(default) - 2}-stage '
                f'space; with {n - 2} stages (stage_strides) expected a list '
                f'of {n}, found {list(entries)!r}')
        return [entries[0]] + copy.deepcopy(default[1:-1]) + [entries[1]]

    @staticmethod
    def _check_entry(tree: dict, i: int, n: int) -> None:
        depth_key = f'{KEY}.MB_stage_blocks[{i}]'
        depths = _check_ints(tree['MB_stage_blocks'][i], depth_key)
        if i in (0, n - 1) and depths != [1]:
            raise ConfigError(f'{depth_key}: the first and last conv have '
                              f'depth 1, found {depths}')
        _check_ints(tree['MB_out_channels'][i],
                    f'{KEY}.MB_out_channels[{i}]')
        k_key = f'{KEY}.MB_kernel_size[{i}]'
        kernels = _check_ints(tree['MB_kernel_size'][i], k_key)
        bad = [k for k in kernels if k % 2 == 0]
        if bad:
            raise ConfigError(f'{k_key}: kernel sizes must be odd (centred '
                              f'crops of the largest), found {bad}')
        e_key = f'{KEY}.MB_expand_ratio[{i}]'
        ratios = _choices(tree['MB_expand_ratio'][i])
        for e in ratios:
            check_number(e, e_key, 0, strict=True)
        if i == 0 and any(e != 1 for e in ratios):
            raise ConfigError(f'{e_key}: the first conv has no expansion; '
                              f'expected 1, found {ratios}')

    def _bn(self, c: int) -> BatchNorm2dSlice:
        return BatchNorm2dSlice(c, momentum=self.bn_momentum)

    def _build(self, se_gate: str) -> None:
        tree, n = self.search_space, self.num_stages + 2
        widths = [_choices(w) for w in tree['MB_out_channels']]
        w_max = [max(w) for w in widths]
        k_max = [_max(k) for k in tree['MB_kernel_size']]
        e_max = [_max(e) for e in tree['MB_expand_ratio']]
        d_max = [_max(d) for d in tree['MB_stage_blocks']]
        act = self.act_cfg

        self.first_conv = nn.Sequential(
            Conv2dSlice(3, w_max[0], k_max[0], stride=2), self._bn(w_max[0]),
            _act(act))
        total = sum(d_max[1:-1])
        self.blocks = nn.ModuleList()
        self.stage_blocks: List[List[int]] = []
        index = 0
        for s in range(self.num_stages):
            i = s + 1
            has_expand = e_max[i] > 1
            stage = []
            for b in range(d_max[i]):
                c_in = w_max[i - 1] if b == 0 else w_max[i]
                in_choices = widths[i - 1] if b == 0 else widths[i]
                hidden = hidden_width(c_in, e_max[i], has_expand)
                stride = self.strides[s] if b == 0 else 1
                needs_proj = b == 0 and not (
                    len(set(in_choices)) == 1 and
                    set(in_choices) == set(widths[i]))
                expand = nn.Sequential(
                    Conv2dSlice(c_in, hidden, 1), self._bn(hidden),
                    _act(act)) if has_expand else None
                depthwise = nn.Sequential(
                    Conv2dSlice(hidden, hidden, k_max[i], stride=stride,
                                groups=hidden),
                    self._bn(hidden), _act(act))
                se = SqueezeExciteSlice(hidden, 4, 8, gate=se_gate) \
                    if self.use_se[s] else None
                project = nn.Sequential(Conv2dSlice(hidden, w_max[i], 1),
                                        self._bn(w_max[i]))
                proj = Conv2dSlice(c_in, w_max[i], 1) if needs_proj else None
                share = index / total if s >= self.num_stages - 2 else 0.0
                self.blocks.append(InvertedResidual(
                    expand, depthwise, se, project, proj, stride,
                    DropPath(share, self.drop_path_ratio)))
                stage.append(index)
                index += 1
            self.stage_blocks.append(stage)

        c_last = w_max[n - 2]
        expanded = make_divisible(round(c_last * e_max[-1]), 8)
        self.final_expand = nn.Sequential(
            Conv2dSlice(c_last, expanded, k_max[-1]), self._bn(expanded),
            _act(act))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_mix = nn.Sequential(
            Conv2dSlice(expanded, w_max[-1], 1), _act(act))

    def _residual_norms(self) -> List[nn.Module]:
        return [block.project[1] for block in self.blocks]

    # -- subnet selection ---------------------------------------------------
    def set_subnet(self, config: Dict[str, list]) -> None:
        """Activate ``config`` (same structure as :attr:`search_space`)."""
        config = validate_tree(self.search_space, config, KEY)
        widths = config['MB_out_channels']
        kernels = config['MB_kernel_size']
        ratios = config['MB_expand_ratio']
        self.first_conv[0].set_active(out_channels=widths[0],
                                      kernel_size=kernels[0])
        self.active_depths = []
        for s, indices in enumerate(self.stage_blocks):
            i = s + 1
            depth = config['MB_stage_blocks'][i]
            self.active_depths.append(depth)
            for b, index in enumerate(indices[:depth]):
                block = self.blocks[index]
                c_in = widths[i - 1] if b == 0 else widths[i]
                hidden = hidden_width(c_in, ratios[i],
                                      block.expand is not None)
                if block.expand is not None:
                    block.expand[0].set_active(out_channels=hidden)
                block.depthwise[0].set_active(out_channels=hidden,
                                              kernel_size=kernels[i])
                block.project[0].set_active(out_channels=widths[i])
                if block.proj is not None:
                    block.proj.set_active(out_channels=widths[i])
        expanded = make_divisible(round(widths[-2] * ratios[-1]), 8)
        self.final_expand[0].set_active(out_channels=expanded,
                                        kernel_size=kernels[-1])
        self.feature_mix[0].set_active(out_channels=widths[-1])
        self.active_subnet = config

    @property
    def feat_dim(self) -> int:
        """Active output channels of the last conv."""
        return self.feature_mix[0].active_out_channels

    def active_blocks(self) -> List[InvertedResidual]:
        """The blocks the active subnet runs, in order."""
        return [self.blocks[i] for s, indices in enumerate(self.stage_blocks)
                for i in indices[:self.active_depths[s]]]

    # -- computation ----------------------------------------------------------
    def forward(self, x: torch.Tensor):
        x = self.first_conv(x)
        for block in self.active_blocks():
            x = block(x)
        x = self.pool(self.final_expand(x))
        return (self.feature_mix(x), )

    # -- export ---------------------------------------------------------------
    @staticmethod
    def _static_seq(seq: nn.Sequential, c_in: int) -> nn.Sequential:
        """Export a conv[-BN][-act] sequence whose conv sees ``c_in``."""
        conv = seq[0]
        layers = [conv.to_static(c_in)]
        c_out = c_in if conv.depthwise else conv.active_out_channels
        for m in list(seq)[1:]:
            if isinstance(m, BatchNorm2dSlice):
                layers.append(m.to_static(c_out))
            else:
                layers.append(type(m)())
        static = nn.Sequential(*layers)
        static.train(seq.training)
        return static

    def to_static(self) -> MobileNetV3Subnet:
        """A plain-module copy of the active subnet (same outputs)."""
        cfg = self.active_subnet
        widths, ratios = cfg['MB_out_channels'], cfg['MB_expand_ratio']
        first = self._static_seq(self.first_conv, 3)
        blocks = []
        for s, indices in enumerate(self.stage_blocks):
            i = s + 1
            for b, index in enumerate(indices[:self.active_depths[s]]):
                block = self.blocks[index]
                c_in = widths[i - 1] if b == 0 else widths[i]
                hidden = hidden_width(c_in, ratios[i],
                                      block.expand is not None)
                expand = None if block.expand is None else \
                    self._static_seq(block.expand, c_in)
                proj = None
                if block.proj is not None and c_in != widths[i]:
                    proj = block.proj.to_static(c_in)
                se = None if block.se is None else block.se.to_static(hidden)
                static = InvertedResidual(
                    expand, self._static_seq(block.depthwise, hidden), se,
                    self._static_seq(block.project, hidden), proj,
                    block.stride, copy.deepcopy(block.drop_path))
                static.train(block.training)
                blocks.append(static)
        expanded = make_divisible(round(widths[-2] * ratios[-1]), 8)
        subnet = MobileNetV3Subnet(
            first, blocks, self._static_seq(self.final_expand, widths[-2]),
            self._static_seq(self.feature_mix, expanded))
        subnet.train(self.training)
        return subnet
