"""Hooks for the mmengine Runner."""
from .actnn import ActNNHook
from .dynamic_eval import DynamicDistEvalHook
from .mess_hook import MESSHook

__all__ = ['ActNNHook', 'DynamicDistEvalHook', 'MESSHook']
