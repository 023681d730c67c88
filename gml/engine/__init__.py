"""Parts that plug into the mmengine Runner: model wrappers, hooks, loops."""
from . import checkpoint  # noqa: F401  (registers the local loader)
from .ddp import DeviceAwareDDP
from .hooks import ActNNHook, DynamicDistEvalHook, MESSHook

__all__ = ['ActNNHook', 'DeviceAwareDDP', 'DynamicDistEvalHook', 'MESSHook']
