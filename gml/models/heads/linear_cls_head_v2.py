"""A linear classification head for supernets, with a soft-target loss."""
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead

from ...errors import ConfigError
from ...registry import MODELS
from ..ops import LinearSlice

MODES = ('soft', 'hard', None)


@MODELS.register_module()
class LinearClsHeadV2(ClsHead):
    """mmpretrain's linear head on a :class:`LinearSlice`, plus a soft loss.

    The input width may be any active backbone width up to ``in_channels``.
    ``loss`` is the hard-label loss (the max subnet's); ``soft_loss`` (e.g.
    ``dict(type='mmcls.CrossEntropyLoss', use_soft=True)``) is used by
    :meth:`soft_loss_of` against the probabilities of a teacher's logits
    (inplace distillation: the other subnets learn from the max subnet).

    Args:
        num_classes, in_channels: sizes of the largest classifier.
        distiller_mode: ``'soft'`` (other subnets learn from the max
            subnet's softmax), ``'hard'`` (every subnet uses the labels) or
            None (same as hard).
        soft_loss: the soft-target loss config (default: soft cross-entropy).
        dropout: dropout before the classifier (set by the algorithm).
        **kwargs: ``loss``, ``topk``, ``cal_acc``, ``init_cfg`` as ClsHead.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 distiller_mode: Optional[str] = 'soft',
                 soft_loss: Optional[dict] = None, dropout: float = 0.0,
                 init_cfg: Optional[dict] = dict(type='Normal', layer='Linear',
                                                 std=0.01), **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        if distiller_mode not in MODES:
            raise ConfigError(f'model.head.distiller_mode: expected one of '
                              f'{MODES}, found {distiller_mode!r}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.distiller_mode = distiller_mode
        self.fc = LinearSlice(in_channels, num_classes)
        self.dropout = nn.Dropout(dropout)
        soft_loss = soft_loss or dict(type='mmpretrain.CrossEntropyLoss',
                                      use_soft=True, loss_weight=1.0)
        self.soft_loss_module = MODELS.build(soft_loss)

    def pre_logits(self, feats):
        return feats[-1]

    def forward(self, feats) -> torch.Tensor:
        return self.fc(self.dropout(self.pre_logits(feats)))

    def soft_loss_of(self, cls_score: torch.Tensor,
                     teacher_logits: torch.Tensor) -> torch.Tensor:
        """Soft loss of ``cls_score`` against ``softmax(teacher_logits)``
        (the teacher is detached)."""
        target = F.softmax(teacher_logits.detach(), dim=1)
        return self.soft_loss_module(cls_score, target,
                                     avg_factor=cls_score.size(0))

    def hard_loss_of(self, cls_score: torch.Tensor,
                     data_samples: List) -> torch.Tensor:
        """The label loss of ``cls_score`` (without accuracy entries)."""
        return self._get_loss(cls_score, data_samples)['loss']
