"""Heads: classification heads that run at any active width."""
from .linear_cls_head_v2 import LinearClsHeadV2

__all__ = ['LinearClsHeadV2']
