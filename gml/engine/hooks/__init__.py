"""Hooks for the mmengine Runner."""
from .dynamic_eval import DynamicDistEvalHook
from .mess_hook import MESSHook

__all__ = ['DynamicDistEvalHook', 'MESSHook']
