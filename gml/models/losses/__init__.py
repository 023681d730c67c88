"""Distillation losses: ``loss(student, teacher)``, the teacher detached.

Importing this package registers them in :data:`gml.registry.MODELS`
(``type='gml.KDLoss'`` and so on).
"""
from .ab_loss import ABLoss
from .cwd_loss import ChannelWiseDivergence
from .ft_loss import FTLoss
from .hint_loss import HintLoss
from .kd_loss import KDLoss
from .soft_ce_loss import SoftCrossEntropyLoss

__all__ = ['ABLoss', 'ChannelWiseDivergence', 'FTLoss', 'HintLoss', 'KDLoss',
           'SoftCrossEntropyLoss']
