"""Hooks for the mmengine Runner."""
from .dynamic_eval import DynamicDistEvalHook

__all__ = ['DynamicDistEvalHook']
