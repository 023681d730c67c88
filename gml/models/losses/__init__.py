"""Distillation losses (``loss(student, teacher)``, the teacher detached)
and the FLOPs loss of channel pruning.

Importing this package registers them in :data:`gml.registry.MODELS`
(``type='gml.KDLoss'`` and so on).
"""
from .ab_loss import ABLoss
from .cwd_loss import ChannelWiseDivergence
from .flops_loss import FlopsLoss
from .ft_loss import FTLoss
from .hint_loss import HintLoss
from .kd_loss import KDLoss
from .soft_ce_loss import SoftCrossEntropyLoss

__all__ = ['ABLoss', 'ChannelWiseDivergence', 'FlopsLoss', 'FTLoss', 'HintLoss', 'KDLoss',
           'SoftCrossEntropyLoss']
