"""Cutting a model to a subnet's channels: really smaller tensors.

:func:`prune_` keeps, in every parameter and buffer dim the subnet
shrinks, the indices of the kept channels (a residual stage, a grouped
conv's kept groups, a concatenation's kept slices, a layer scale, ...)
and updates the layers' size attributes, so the model keeps its classes,
attributes and forward. It returns the new shapes and attributes;
:func:`reshape_` gives a freshly built model those shapes (its leading
entries: the weights come from the pruned checkpoint), which is what
``gml.PrunedModel`` does from a config, for retraining.
"""
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS
from .channel_graph import ChannelGraph

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.modules.batchnorm._NormBase, )


def _size_attributes(module: nn.Module, groups: Optional[int] = None
                     ) -> Dict[str, object]:
    """The size attributes of a standard layer, read off its weights."""
    if isinstance(module, CONVS):
        groups = groups or module.groups
        return dict(in_channels=module.weight.shape[1] * groups,
                    out_channels=module.weight.shape[0], groups=groups)
    if isinstance(module, nn.Linear):
        return dict(in_features=module.weight.shape[1],
                    out_features=module.weight.shape[0])
    if isinstance(module, NORMS):
        stat = module.running_mean if module.running_mean is not None \
            else module.weight
        return dict(num_features=stat.shape[0]) if stat is not None else {}
    if isinstance(module, nn.LayerNorm) and module.weight is not None:
        return dict(normalized_shape=tuple(module.weight.shape))
    if isinstance(module, nn.GroupNorm) and module.weight is not None:
        return dict(num_channels=module.weight.shape[0])
    return {}


def _replace(module: nn.Module, attr: str, value: torch.Tensor) -> None:
    old = getattr(module, attr)
    if isinstance(old, nn.Parameter):
        setattr(module, attr, nn.Parameter(value, old.requires_grad))
    else:
        setattr(module, attr, value)  # a buffer: stays registered


def _module(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ConfigError(f'shapes: the model has no module {name!r}') \
            from None


def _owner(model: nn.Module, name: str):
    owner, _, attr = name.rpartition('.')
    return _module(model, owner), attr


def prune_(model: nn.Module, graph: ChannelGraph,
           subnet: Dict[str, int]) -> dict:
    """Cut ``model`` (the traced one, or a copy of it) to ``subnet``, in
    place. Returns ``dict(shapes={param: shape}, attributes={module:
    {attr: value}})`` of everything it changed."""
    shapes: Dict[str, list] = {}
    touched: Dict[str, int] = {}
    for name, dims in graph.cuts(subnet).items():
        module, attr = _owner(model, name)
        value = getattr(module, attr).data
        for dim, index in dims.items():
            value = value.index_select(dim, index)
        _replace(module, attr, value.clone())
        shapes[name] = list(value.shape)
        owner = name.rpartition('.')[0]
        groups = graph.trace.groups.get(name)
        if groups and 0 in dims:
            touched[owner] = groups * len(dims[0]) // \
                graph.trace.param_dims[name][0].numel()
        else:
            touched.setdefault(owner, 0)
    attributes = {}
    for owner, groups in touched.items():
        module = model.get_submodule(owner)
        changed = {k: v for k, v in _size_attributes(
            module, groups or None).items() if getattr(module, k) != v}
        for key, value in changed.items():
            setattr(module, key, value)
        if changed:
            attributes[owner] = {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in changed.items()}
    return dict(shapes=shapes, attributes=attributes)


def reshape_(model: nn.Module, shapes: Dict[str, list],
             attributes: Dict[str, dict]) -> nn.Module:
    """Give ``model`` the parameter ``shapes`` (their leading entries) and
    the layer ``attributes`` that :func:`prune_` returned; in place."""
    for name, shape in shapes.items():
        module, attr = _owner(model, name)
        value = getattr(module, attr, None)
        if not isinstance(value, torch.Tensor) or \
                value.dim() != len(shape) or \
                any(s > v for s, v in zip(shape, value.shape)):
            raise ConfigError(f'shapes.{name}: cannot cut '
                              f'{None if value is None else list(value.shape)}'
                              f' to {shape}')
        index = tuple(slice(0, s) for s in shape)
        _replace(module, attr, value.data[index].clone())
    for owner, values in attributes.items():
        module = _module(model, owner)
        for key, value in values.items():
            if not hasattr(module, key):
                raise ConfigError(f'attributes.{owner}: a '
                                  f'{type(module).__name__} has no {key!r}')
            setattr(module, key, tuple(value) if isinstance(value, list)
                    else value)
    return model


@MODELS.register_module('PrunedModel')
def build_pruned_model(model, shapes: Dict[str, list],
                       attributes: Dict[str, dict]):
    """``dict(type='gml.PrunedModel', model=<model config>, shapes=...,
    attributes=...)``: the model built as usual, then cut to the shapes
    an export wrote."""
    from ...registry import build_model
    return reshape_(build_model(copy.deepcopy(model)), shapes, attributes)
