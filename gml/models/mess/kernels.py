"""Which kernels MESS shares: a model's kernel families and their
reference layers.

A *family* is a list of convs, in module order, whose weights are cut into
*pieces* of the same length ``d``; its first conv is the *reference*,
stored as is, and every piece of the other convs is rebuilt from one
*candidate* the reference offers:

* ``conv``: the non-depthwise 3x3 convs (``groups == 1``); a piece is one
  3x3 slice ``K[o, i]`` (d = 9), the candidates are the reference's 3x3
  slices (a CIFAR ResNet's 3->16 stem: 48 candidates).
* ``depthwise``: the 3x3 depthwise convs (``groups == in_channels``); a
  piece is one output channel's 3x3 kernel, the candidates are the
  reference's kernels (MobileNet's first depthwise conv: 32).
* ``pointwise``: the 1x1 convs (``groups == 1``); each weight row is cut
  into slices of ``slice_size`` input channels (a piece), and the
  candidates are the windows of that length sliding with stride 1 along
  every row of the reference (``O_r * (I_r - slice_size + 1)`` of them).
  Only convs whose input channels are a multiple of ``slice_size`` take
  part; the reference is the first with at least ``slice_size`` inputs.

Other convs (grouped, 5x5, 7x7, ...) are left as they are.
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError

KINDS = ('conv', 'depthwise', 'pointwise')


def conv_kind(module: nn.Module) -> str:
    """``'conv'``, ``'depthwise'``, ``'pointwise'`` or ``''`` (not shared)."""
    if not isinstance(module, nn.Conv2d):
        return ''
    size = tuple(module.kernel_size)
    if module.groups == 1 and size == (3, 3):
        return 'conv'
    if module.groups == 1 and size == (1, 1):
        return 'pointwise'
    if module.groups > 1 and module.groups == module.in_channels and \
            size == (3, 3):
        return 'depthwise'
    return ''


@dataclass
class Family:
    """The convs of one kind, reference first (see the module docstring)."""

    kind: str
    names: List[str]
    modules: List[nn.Conv2d]
    slice_size: int = 8
    skipped: List[str] = field(default_factory=list)

    @property
    def reference(self) -> Tuple[str, nn.Conv2d]:
        return self.names[0], self.modules[0]

    @property
    def shared(self) -> List[Tuple[str, nn.Conv2d]]:
        return list(zip(self.names[1:], self.modules[1:]))

    @property
    def piece_size(self) -> int:
        return self.slice_size if self.kind == 'pointwise' else 9

    def pieces(self, weight: torch.Tensor) -> torch.Tensor:
        """The pieces of a shared conv's weight, one per row ``(n, d)``;
        ``pieces.reshape(weight.shape)`` gives the weight back."""
        return weight.reshape(-1, self.piece_size)

    def candidates(self, reference: torch.Tensor) -> torch.Tensor:
        """The reference weight's candidate pieces ``(m, d)``."""
        if self.kind != 'pointwise':
            return reference.reshape(-1, self.piece_size)
        rows = reference.reshape(reference.shape[0], -1)
        windows = rows.unfold(1, self.slice_size, 1)  # (O_r, I_r - s + 1, s)
        return windows.reshape(-1, self.slice_size)

    def num_candidates(self) -> int:
        weight = self.modules[0].weight
        if self.kind != 'pointwise':
            return weight.numel() // self.piece_size
        return weight.shape[0] * (weight.shape[1] - self.slice_size + 1)


def find_families(model: nn.Module, pointwise='auto',
                  slice_size: int = 8) -> List[Family]:
    """The kernel families of ``model`` that have a reference and at least
    one conv to share; a ConfigError when there is none.

    ``pointwise``: ``'auto'`` shares the 1x1 convs of models that have
    depthwise convs (the MobileNets) only, ``True`` always, ``False``
    never.
    """
    found = {kind: Family(kind, [], [], slice_size) for kind in KINDS}
    for name, module in model.named_modules():
        kind = conv_kind(module)
        if not kind:
            continue
        family = found[kind]
        if kind == 'pointwise':
            inputs = module.in_channels
            if not family.names and inputs < slice_size or \
                    family.names and inputs % slice_size:
                family.skipped.append(name)
                continue
        family.names.append(name)
        family.modules.append(module)
    if pointwise == 'auto':
        pointwise = len(found['depthwise'].names) > 0
    if not pointwise:
        del found['pointwise']
    families = [f for f in found.values() if len(f.names) > 1]
    if not families:
        raise ConfigError(
            'MESS: the model has no compressible kernel: it needs a '
            'reference layer and at least one more non-depthwise 3x3 conv, '
            'depthwise 3x3 conv' + (f' or 1x1 conv (inputs a multiple of '
                                    f'{slice_size})' if pointwise else '')
            + f'; {type(model).__name__} has ' + ', '.join(
                f'{len(f.names)} {f.kind}' for f in found.values()))
    return families
