"""Helpers shared by the slice ops.

Bad constructor or ``set_active`` arguments raise
:class:`gml.errors.ConfigError` naming the op and the key; an input tensor the
op cannot run on raises ``ValueError``.
"""
from typing import Any, Optional, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...utils.checks import check_int, check_number, is_int


def make_divisible(v: float, divisor: int = 8,
                   min_value: Optional[int] = None) -> int:
    """Round ``v`` to a multiple of ``divisor`` for a channel count.

    ``v`` is rounded to the nearest multiple of ``divisor`` (halves round up),
    raised to ``min_value`` if below it, and ``divisor`` is added when the
    result lost more than 10% of ``v`` (is below ``0.9 * v``).

    Floor: ``min_value=None`` means a floor of ``divisor`` (the MobileNet
    convention, also DMCP's US ops), so the result is always a positive
    multiple of ``divisor``. Pass ``min_value=1`` for the slimmable_networks /
    AttentiveNAS floor; the two differ only for ``v < divisor / 2``, where a
    floor of 1 gives 1 (``v <= 1.11``) or ``divisor + 1``, e.g.
    ``make_divisible(3) == 8`` but ``make_divisible(3, min_value=1) == 9``.

    Examples (divisor 8): 10 -> 16, 17 -> 16, 18 -> 24, 32 -> 32, 35 -> 32,
    36 -> 40.
    """
    check_int(divisor, 'make_divisible.divisor', 1)
    check_number(v, 'make_divisible.v', 0)
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(v + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * v:
        rounded += divisor
    return int(rounded)


def center_crop_kernel(weight: torch.Tensor, k: int) -> torch.Tensor:
    """The centred ``k x k`` window of a ``(..., K, K)`` kernel (a view).

    ``K - k`` must be even so the window is centred; e.g. 5 -> 3 keeps rows
    and columns 1..3. ``k == K`` returns ``weight`` itself.
    """
    size = weight.shape[-1]
    if weight.dim() < 2 or weight.shape[-2] != size:
        raise ValueError(f'center_crop_kernel: expected a square kernel, '
                         f'found shape {tuple(weight.shape)}')
    if not is_int(k) or not 1 <= k <= size or (size - k) % 2:
        raise ConfigError(f'center_crop_kernel: kernel size {k!r} is no '
                          f'centred crop of a {size}x{size} kernel')
    if k == size:
        return weight
    start = (size - k) // 2
    return weight[..., start:start + k, start:start + k]


def square_size(value: Any, key: str) -> int:
    """An int, or a pair of equal ints, as one positive int."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or value[0] != value[1]:
            raise ConfigError(f'{key}: expected one size or two equal sizes, '
                              f'found {value!r}')
        value = value[0]
    return check_int(value, key, 1)


def active_width(value: Optional[Any], maximum: int, key: str) -> \
        Optional[int]:
    """Validate an active width: None (the maximum) or 1..``maximum``."""
    if value is None:
        return None
    value = check_int(value, key, 1)
    if value > maximum:
        raise ConfigError(f'{key} {value} > the {maximum} it holds')
    return value


def input_width(x: torch.Tensor, dim: int, maximum: int, owner: str,
                what: str) -> int:
    """The width of ``x`` along ``dim``, checked against ``maximum``."""
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f'{owner}: input of shape {tuple(x.shape)} has no '
                         f'{what} dimension')
    width = x.shape[dim]
    if width > maximum:
        raise ValueError(f'{owner}: input has {width} {what} but the op '
                         f'holds weights for at most {maximum}')
    if width < 1:
        raise ValueError(f'{owner}: input has no {what}')
    return width


def pair(value: int) -> Tuple[int, int]:
    """``(value, value)``, for the 2-D arguments of ``F.conv2d``."""
    return (value, value)


def fill_static(static: nn.Module, like: nn.Module, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> nn.Module:
    """Give a freshly built plain op ``like``'s device, dtype and training
    mode, and copies of the active ``weight`` / ``bias``."""
    static = static.to(device=like.weight.device, dtype=like.weight.dtype)
    with torch.no_grad():
        static.weight.copy_(weight)
        if bias is not None:
            static.bias.copy_(bias)
    static.train(like.training)
    return static
