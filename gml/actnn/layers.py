"""ActNN's layers: torch layers that keep what they save for backward
compressed.

Each ``Q`` layer subclasses its torch layer (same constructor, same
parameters and ``state_dict``) and, in a training forward with gradients
enabled, runs that layer's forward under a :class:`~.controller.Controller`'s
saved-tensor hooks: the input a convolution, linear or batch norm keeps,
the output a ReLU keeps and the input and indices a max pool keeps are
packed at the controller's bits (the layer's own parameters and buffers
stay as they are). Evaluation and no-grad forwards are the torch layer's,
unchanged.

    import gml.actnn as actnn
    actnn.set_optimization_level('L2')      # before building the layers
    net = nn.Sequential(actnn.QConv2d(3, 16, 3), actnn.QBatchNorm2d(16),
                        actnn.QReLU(), actnn.QMaxPool2d(2))

A layer takes its controller when it is built: the one shared by every
layer built under the same ``gml.actnn.config`` (its ``auto_iterate``
starts a new iteration when a layer runs again), or, once converted or
adopted by :class:`~.qmodule.QModule` or ``gml.ActNNHook``, theirs.
Set ``layer.controller`` to use another.
"""
from dataclasses import astuple
from itertools import chain
from typing import Dict, Tuple

import torch
import torch.nn as nn

from . import conf
from .controller import Controller

_shared: Dict[Tuple, Controller] = {}


def shared_controller() -> Controller:
    """The controller of layers built under the current
    ``gml.actnn.config`` (one per distinct settings)."""
    key = astuple(conf.config)
    controller = _shared.get(key)
    if controller is None:
        controller = _shared[key] = Controller()
        controller.auto_iterate = True
    return controller


class QLayer:
    """The compressing part of every Q-layer (put first in the bases)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.controller = shared_controller()

    def forward(self, *args, **kwargs):
        if not (self.training and torch.is_grad_enabled()):
            return super().forward(*args, **kwargs)
        controller = self.controller
        controller.layer_forward(self)
        own = {t.untyped_storage().data_ptr() for t in chain(
            self.parameters(recurse=False), self.buffers(recurse=False))}

        def pack(x):
            if isinstance(x, torch.Tensor) and \
                    x.untyped_storage().data_ptr() in own:
                return x  # a weight (or a view of it), running statistics
            return controller.quantize(x)

        with torch.autograd.graph.saved_tensors_hooks(pack,
                                                      controller.dequantize):
            return super().forward(*args, **kwargs)


class QConv1d(QLayer, nn.Conv1d):
    """:class:`torch.nn.Conv1d` keeping its input compressed."""


class QConv2d(QLayer, nn.Conv2d):
    """:class:`torch.nn.Conv2d` keeping its input compressed."""


class QConv3d(QLayer, nn.Conv3d):
    """:class:`torch.nn.Conv3d` keeping its input compressed."""


class QConvTranspose1d(QLayer, nn.ConvTranspose1d):
    """:class:`torch.nn.ConvTranspose1d` keeping its input compressed."""


class QConvTranspose2d(QLayer, nn.ConvTranspose2d):
    """:class:`torch.nn.ConvTranspose2d` keeping its input compressed."""


class QConvTranspose3d(QLayer, nn.ConvTranspose3d):
    """:class:`torch.nn.ConvTranspose3d` keeping its input compressed."""


class QBatchNorm1d(QLayer, nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` keeping its input compressed."""


class QBatchNorm2d(QLayer, nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` keeping its input compressed."""


class QBatchNorm3d(QLayer, nn.BatchNorm3d):
    """:class:`torch.nn.BatchNorm3d` keeping its input compressed."""


class QSyncBatchNorm(QLayer, nn.SyncBatchNorm):
    """:class:`torch.nn.SyncBatchNorm` keeping its input compressed."""


class QLinear(QLayer, nn.Linear):
    """:class:`torch.nn.Linear` keeping its input compressed."""


class QReLU(QLayer, nn.ReLU):
    """:class:`torch.nn.ReLU` keeping its output compressed (zeros
    exactly, so its gradient mask is exact)."""


class QMaxPool2d(QLayer, nn.MaxPool2d):
    """:class:`torch.nn.MaxPool2d` keeping its input compressed and its
    indices losslessly packed."""


# the torch layer each Q-layer replaces (exact types: a subclass may
# have its own forward)
Q_LAYERS = {
    nn.Conv1d: QConv1d, nn.Conv2d: QConv2d, nn.Conv3d: QConv3d,
    nn.ConvTranspose1d: QConvTranspose1d,
    nn.ConvTranspose2d: QConvTranspose2d,
    nn.ConvTranspose3d: QConvTranspose3d,
    nn.BatchNorm1d: QBatchNorm1d, nn.BatchNorm2d: QBatchNorm2d,
    nn.BatchNorm3d: QBatchNorm3d, nn.SyncBatchNorm: QSyncBatchNorm,
    nn.Linear: QLinear, nn.ReLU: QReLU, nn.MaxPool2d: QMaxPool2d,
}


def to_q_layer(layer: nn.Module, controller: Controller) -> nn.Module:
    """The Q-layer for a torch ``layer`` of a type in ``Q_LAYERS``: the
    same parameters and buffers (the same tensors, so an optimizer built
    before keeps working), hooks and settings; other modules as they
    are."""
    q_type = Q_LAYERS.get(type(layer))
    if q_type is None:
        return layer
    converted = q_type.__new__(q_type)
    for name, value in vars(layer).items():
        # parameter, buffer and hook tables are the layer's own
        if isinstance(value, (dict, set, list)):
            value = type(value)(value) if not isinstance(value, dict) \
                else value.copy()
        object.__setattr__(converted, name, value)
    converted.controller = controller
    return converted
