"""Activation-compressed training (ActNN): the tensors autograd keeps for
backward are stored at 1-8 bits and restored when backward needs them.

    import gml.actnn as actnn
    actnn.set_optimization_level('L3')
    model = actnn.QModule(model)                # or, in an mmengine config:
    # custom_hooks = [dict(type='gml.ActNNHook', level='L3')]

``actnn.controller.Controller`` is the low-level API (saved-tensor hooks).
"""
from . import compat, controller
from .conf import (ACTIVATION_BITS, LEVELS, ActNNConfig, config,
                   set_optimization_level)
from .controller import Controller
from .qmodule import QModule

compat.install()

__all__ = ['ACTIVATION_BITS', 'LEVELS', 'ActNNConfig', 'Controller',
           'QModule', 'config', 'controller', 'set_optimization_level']
