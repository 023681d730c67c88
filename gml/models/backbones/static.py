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
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            if i > max(self.out_indices):
                break
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
