"""Running a model as a subnet of itself: each layer reads only the kept
channels.

Every conv, linear and layer norm whose input channels belong to a
prunable unit gets its input scaled by the current per-element scales
(1/0 for a sampled subnet, keep probabilities in DMCP's architecture
forward) along the dimension it reads as channels. A zeroed channel then
contributes nothing, so the masked model computes what the cut model
computes; a layer norm's statistics are taken over the kept channels only
(weighted by the scales), as the cut model's are.

Where the layer's call receives its module's input (``nn.Conv2d``,
``nn.Linear``), a forward pre-hook scales it; elsewhere (a layer norm that
permutes inside, a module calling ``F.conv2d`` on a transformed input) a
function mode intercepts the call inside that module's forward.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .channel_graph import ChannelGraph

MASKED_CALLS = {torch.conv1d: 'conv', torch.conv2d: 'conv',
                torch.conv3d: 'conv', F.linear: 'linear',
                F.layer_norm: 'layer_norm', torch.layer_norm: 'layer_norm'}
WEIGHT_ARG = {'conv': 1, 'linear': 1, 'layer_norm': 2}


def masked_layer_norm(x, normalized_shape, weight=None, bias=None,
                      eps=1e-5, mask=None):
    """Layer norm over the last dim with per-channel weights ``mask``:
    the statistics of the kept channels only (0/1 mask), as a cut model
    computes them."""
    total = mask.sum()
    mean = (x * mask).sum(-1, keepdim=True) / total
    centred = x - mean
    var = (centred * centred * mask).sum(-1, keepdim=True) / total
    out = centred * torch.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


class _CallMasks(TorchFunctionMode):
    """Intercepts masked calls inside the owners' forwards."""

    def __init__(self, masks: 'ChannelMasks'):
        super().__init__()
        self.masks = masks

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = MASKED_CALLS.get(func)
        if kind is not None:
            index = WEIGHT_ARG[kind]
            weight = args[index] if len(args) > index else \
                kwargs.get('weight')
            name = self.masks.weights.get(id(weight))
            if name is not None and self.masks.scale is not None:
                return self.masks.call(kind, name, func, args, kwargs)
        return func(*args, **kwargs)


class ChannelMasks:
    """The masking hooks of one model; :meth:`set` the element scales."""

    def __init__(self, graph: ChannelGraph, model: nn.Module):
        self.scale: Optional[torch.Tensor] = None
        self._index: Dict[str, torch.Tensor] = {}
        self._dims: Dict[str, int] = {}
        self._cache: Dict[str, torch.Tensor] = {}
        self.weights: Dict[int, str] = {}
        self._handles: List = []
        self._mode = _CallMasks(self)
        self._depth = 0
        params = dict(model.named_parameters())
        owners: Dict[str, list] = {}
        for point in graph.mask_points():
            self._index[point.weight] = graph.element_index(point.atoms)
            self._dims[point.weight] = point.dim
            self.weights[id(params[point.weight])] = point.weight
            owners.setdefault(point.owner, []).append(point)
        for owner, points in owners.items():
            module = model.get_submodule(owner)
            if len(points) == 1 and points[0].direct:
                self._handles.append(module.register_forward_pre_hook(
                    self._direct_hook(points[0].weight)))
            else:
                self._handles += [
                    module.register_forward_pre_hook(self._enter),
                    module.register_forward_hook(self._exit,
                                                 always_call=True)]

    def set(self, scale: Optional[torch.Tensor]) -> None:
        """Per element slot (the last one always 1); None: unmasked."""
        self.scale = scale
        self._cache = {}

    def mask(self, weight: str) -> torch.Tensor:
        mask = self._cache.get(weight)
        if mask is None:
            index = self._index[weight]
            if index.device != self.scale.device:
                index = self._index[weight] = index.to(self.scale.device)
            mask = self._cache[weight] = self.scale[index]
        return mask

    def _shaped(self, weight: str, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask(weight).to(x.dtype)
        dim = self._dims[weight] % x.dim()
        return mask.view((-1, ) + (1, ) * (x.dim() - dim - 1))

    def call(self, kind, weight, func, args, kwargs):
        x = args[0]
        if kind == 'layer_norm':
            rest = list(args[1:])
            return masked_layer_norm(x, *rest, **kwargs,
                                     mask=self.mask(weight).to(x.dtype))
        return func(x * self._shaped(weight, x), *args[1:], **kwargs)

    def _direct_hook(self, weight: str):
        def hook(module, args):
            if self.scale is None or not args:
                return None
            return (args[0] * self._shaped(weight, args[0]), ) + \
                tuple(args[1:])
        return hook

    def _enter(self, module, args):
        if self.scale is None:
            return
        if self._depth == 0:
            self._mode.__enter__()
        self._depth += 1

    def _exit(self, module, args, output):
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self._mode.__exit__(None, None, None)

    def strip(self, copy: nn.Module) -> None:
        """Remove these hooks from a deep copy of the model."""
        ids = {handle.id for handle in self._handles}
        for module in copy.modules():
            for hooks in (module._forward_pre_hooks, module._forward_hooks,
                          module._forward_hooks_always_called):
                for key in ids & set(hooks):
                    del hooks[key]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
