"""The plain network a slice backbone exports for its active subnet."""
from typing import Sequence

import torch
import torch.nn as nn


class StaticBackbone(nn.Module):
    """A stem and a sequence of stages made of plain torch ops.

    ``forward`` returns the feature maps of ``out_indices`` as a tuple (the
    mmpretrain convention); ``feat_dim`` is the width of the deepest of them.
    """

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module],
                 out_indices: Sequence[int], widths: Sequence[int]):
        super().__init__()
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.out_indices = tuple(out_indices)
        self.widths = tuple(widths)

    @property
    def feat_dim(self) -> int:
        return self.widths[max(self.out_indices)]

    def forward(self, x: torch.Tensor) -> tuple:
        return forward_stages(x, self.stem, self.stages, self.out_indices)


def forward_stages(x: torch.Tensor, stem: nn.Module,
                   stages: Sequence[nn.Module],
                   out_indices: Sequence[int]) -> tuple:
    """Run ``stem`` then the stages up to the deepest of ``out_indices``;
    return the outputs of the stages in ``out_indices``."""
    x = stem(x)
    outs = []
    last = max(out_indices)
    for i, stage in enumerate(stages):
        if i > last:
            break
        x = stage(x)
        if i in out_indices:
            outs.append(x)
    return tuple(outs)
