"""Parts that plug into the mmengine Runner: model wrappers, hooks, loops."""
from . import checkpoint  # noqa: F401  (registers the local loader)
from .ddp import DeviceAwareDDP
from .hooks import DynamicDistEvalHook, MESSHook

__all__ = ['DeviceAwareDDP', 'DynamicDistEvalHook', 'MESSHook']
