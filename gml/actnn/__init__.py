"""Activation-compressed training (ActNN): the tensors autograd keeps for
backward are stored at 1-8 bits and restored when backward needs them.

    import gml.actnn as actnn
    actnn.set_optimization_level('L3')
    model = actnn.QModule(model)      # nn.Conv2d -> actnn.QConv2d, ...
    # or build with the layers: actnn.QConv2d(3, 16, 3), actnn.QReLU(), ...
    # or, in an mmengine config:
    # custom_hooks = [dict(type='gml.ActNNHook', level='L3')]

``actnn.controller.Controller`` is the low-level API (saved-tensor hooks).
"""
from . import compat, controller, layers
from .conf import (ACTIVATION_BITS, LEVELS, ActNNConfig, QScheme, config,
                   set_optimization_level)
from .controller import Controller
from .layers import (QBatchNorm1d, QBatchNorm2d, QBatchNorm3d, QConv1d,
                     QConv2d, QConv3d, QConvTranspose1d, QConvTranspose2d,
                     QConvTranspose3d, QLayer, QLinear, QMaxPool2d, QReLU,
                     QSyncBatchNorm)
from .qmodule import QModule

compat.install()

__all__ = ['ACTIVATION_BITS', 'LEVELS', 'ActNNConfig', 'Controller',
           'QBatchNorm1d', 'QBatchNorm2d', 'QBatchNorm3d', 'QConv1d',
           'QConv2d', 'QConv3d', 'QConvTranspose1d', 'QConvTranspose2d',
           'QConvTranspose3d', 'QLayer', 'QLinear', 'QMaxPool2d', 'QModule',
           'QReLU', 'QScheme', 'QSyncBatchNorm', 'config', 'controller',
           'layers', 'set_optimization_level']
