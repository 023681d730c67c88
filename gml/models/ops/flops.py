"""Analytic MACs and parameter counts of a model at its active config.

The convention (gml's fixed one; algorithms.md §6 item 6):

* conv: ``c_in * c_out * k_h * k_w * H_out * W_out / groups`` MACs, with the
  widths, kernel size and groups the conv actually ran with (for a
  :class:`Conv2dSlice`, its active config);
* linear: ``in * out`` MACs per row;
* nothing else: no bias, BN, activation, pooling, SE multiply or resize
  (an SE block counts as its two 1x1 convs);
* "FLOPs" means these MACs (the NAS literature's usage), for the whole
  input batch (use batch 1, the default, for per-image numbers);
* params: weights and biases of the convs and linears that ran, at their
  active sizes, each module counted once (BN parameters are not counted).

Counting runs one forward pass of a zero tensor of the given input shape,
in eval mode and without gradients (BN running stats are not touched, the
training flags are restored), with forward hooks that are removed
afterwards.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...utils.checks import is_int
from .conv2d_slice import Conv2dSlice

UNITS = {None: 1, 'M': 10**6, 'G': 10**9}


def _scale(value: int, units: Optional[str]):
    if units is None:
        return value
    return value / UNITS[units]


def _check_units(units: Optional[str]) -> Optional[str]:
    if units not in UNITS:
        raise ConfigError(f"units: expected 'M', 'G' or None, found "
                          f'{units!r}')
    return units


def _check_shape(input_shape: Sequence[int]) -> Tuple[int, ...]:
    if isinstance(input_shape, int) or not all(
            is_int(d) and d > 0 for d in input_shape):
        raise ConfigError(f'input_shape: expected a sequence of positive '
                          f'integers, found {input_shape!r}')
    return tuple(input_shape)


def _conv_counts(module: nn.Conv2d, inputs, output) -> Tuple[int, int]:
    c_in = inputs[0].shape[-3]
    c_out = output.shape[-3]
    positions = output.numel() // c_out
    if isinstance(module, Conv2dSlice):
        k_h = k_w = module.active_kernel_size
        groups = c_in if module.depthwise else module.groups
    else:
        k_h, k_w = module.kernel_size
        groups = module.groups
    weights = c_out * (c_in // groups) * k_h * k_w
    params = weights + (c_out if module.bias is not None else 0)
    return weights * positions, params


def _linear_counts(module: nn.Linear, inputs, output) -> Tuple[int, int]:
    in_features = inputs[0].shape[-1]
    out_features = output.shape[-1]
    rows = output.numel() // out_features
    weights = in_features * out_features
    params = weights + (out_features if module.bias is not None else 0)
    return weights * rows, params


def count_flops(model: nn.Module,
                input_shape: Sequence[int] = (1, 3, 224, 224),
                units: Optional[str] = 'M') -> dict:
    """``dict(flops=MACs, params=...)`` of ``model`` on ``input_shape``.

    Counts at the active config of every slice op (see the module docstring
    for the convention). ``units`` is ``'M'`` (millions), ``'G'``
    (billions) or None (plain integers). ``model(x)`` must accept one tensor.
    """
    units = _check_units(units)
    input_shape = _check_shape(input_shape)
    totals = dict(flops=0, params=0)
    seen = set()

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            flops, params = _conv_counts(module, inputs, output)
        else:
            flops, params = _linear_counts(module, inputs, output)
        totals['flops'] += flops
        if id(module) not in seen:
            seen.add(id(module))
            totals['params'] += params

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    modes = {m: m.training for m in model.modules()}
    reference = next(model.parameters(), None)
    if reference is None:
        reference = next(model.buffers(), torch.zeros(()))
    dtype = reference.dtype if reference.is_floating_point() \
        else torch.float32
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_shape, dtype=dtype,
                              device=reference.device))
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes.items():
            m.training = training
    return dict(flops=_scale(totals['flops'], units),
                params=_scale(totals['params'], units))


class FlopsCounter:
    """A counter bound to one input shape and unit.

    ``FlopsCounter(input_shape=(1, 3, 64, 64))(model)`` always measures at
    64x64: the constructor's shape is the one used for every estimate.

    Args:
        input_shape: the shape of the dummy input (batch first).
        units: ``'M'``, ``'G'`` or None.
    """

    def __init__(self, input_shape: Sequence[int] = (1, 3, 224, 224),
                 units: Optional[str] = 'M'):
        self.input_shape = _check_shape(input_shape)
        self.units = _check_units(units)

    def __call__(self, model: nn.Module) -> dict:
        return count_flops(model, self.input_shape, self.units)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_shape={self.input_shape}, '
                f'units={self.units!r})')
