"""Shrinking a model to chosen channel widths: really smaller tensors.

A subnet (``{unit: channels}``) becomes per-module sizes (``{module:
{'out_channels': 40, ...}}``); :func:`shrink_` cuts every listed conv,
linear and BatchNorm in place to its leading channels (those a pruned
subnet keeps), so the model keeps its classes, attributes and forward and
loads a pruned checkpoint like any other. :func:`build_pruned_model`
(registered as ``gml.PrunedModel``) does it from a config, for retraining.
"""
import copy
from typing import Dict

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from .channel_graph import NORMS, ChannelGraph


def module_sizes(graph: ChannelGraph,
                 subnet: Dict[str, int]) -> Dict[str, Dict[str, int]]:
    """The constructor sizes of every module ``subnet`` changes."""
    sizes: Dict[str, Dict[str, int]] = {}
    for unit in graph.units.values():
        width = subnet.get(unit.name)
        if width is None or width == unit.channels:
            continue
        for name in unit.producers:
            key = 'out_features' if name in _linears(graph) \
                else 'out_channels'
            sizes.setdefault(name, {})[key] = int(width)
        for name in unit.consumers:
            key = 'in_features' if name in _linears(graph) \
                else 'in_channels'
            sizes.setdefault(name, {})[key] = int(width)
        for name in unit.norms:
            sizes.setdefault(name, {})['num_features'] = int(width)
        for name in unit.depthwise:
            sizes.setdefault(name, {}).update(
                in_channels=int(width), out_channels=int(width),
                groups=int(width))
    return sizes


def _linears(graph: ChannelGraph):
    return {term.module for term in graph.costs if term.linear}


def _cut(tensor: torch.Tensor, dims: Dict[int, int]) -> torch.Tensor:
    index = tuple(slice(0, dims[d]) if d in dims else slice(None)
                  for d in range(tensor.dim()))
    return tensor[index].clone()


def _shrink_module(module: nn.Module, name: str, sizes: Dict[str, int]):
    def param(attr, dims):
        value = getattr(module, attr, None)
        if value is None:
            return
        cut = _cut(value.data, dims)
        if isinstance(value, nn.Parameter):
            setattr(module, attr, nn.Parameter(cut, value.requires_grad))
        else:
            setattr(module, attr, cut)  # a buffer: stays registered
    if isinstance(module, nn.Conv2d):
        c_in = sizes.get('in_channels', module.in_channels)
        c_out = sizes.get('out_channels', module.out_channels)
        groups = sizes.get('groups', module.groups)
        param('weight', {0: c_out, 1: c_in // groups})
        param('bias', {0: c_out})
        module.in_channels, module.out_channels = c_in, c_out
        module.groups = groups
    elif isinstance(module, nn.Linear):
        c_in = sizes.get('in_features', module.in_features)
        c_out = sizes.get('out_features', module.out_features)
        param('weight', {0: c_out, 1: c_in})
        param('bias', {0: c_out})
        module.in_features, module.out_features = c_in, c_out
    elif isinstance(module, NORMS):
        width = sizes['num_features']
        for attr in ('weight', 'bias', 'running_mean', 'running_var'):
            param(attr, {0: width})
        module.num_features = width
    else:
        raise ConfigError(f'channels.{name}: cannot shrink a '
                          f'{type(module).__name__}')


def shrink_(model: nn.Module, sizes: Dict[str, Dict[str, int]]) -> nn.Module:
    """Cut the modules named in ``sizes`` (see :func:`module_sizes`) to
    their leading channels, in place; returns ``model``."""
    modules = dict(model.named_modules())
    for name, module_sizes_ in sizes.items():
        if name not in modules:
            raise ConfigError(f'channels: the model has no module {name!r}')
        _shrink_module(modules[name], name, module_sizes_)
    return model


@MODELS.register_module('PrunedModel')
def build_pruned_model(model, channels: Dict[str, Dict[str, int]]):
    """``dict(type='gml.PrunedModel', model=<model config>, channels=...)``:
    the model built as usual, then shrunk to ``channels``."""
    from ...registry import build_model
    return shrink_(build_model(copy.deepcopy(model)), channels)
