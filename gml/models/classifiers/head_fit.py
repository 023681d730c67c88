"""Does a classifier's head fit what its backbone (and neck) produce?

A classification head such as ``LinearClsHead`` / ``LinearClsHeadV2``
expects flat features ``(N, in_channels)``. A backbone that returns a map
``(N, C, H, W)`` needs a neck that flattens it (``GlobalAveragePooling``);
without one, a linear head runs on the map's last dimension and the logits
come out ``(N, C, H, num_classes)``, which fails deep inside the loss. This
module finds such a model at build time by running the backbone, the neck
and the head once on a tiny zero input (eval mode, no gradients, no random
numbers drawn, every module's train/eval state restored) and turns a
mismatch into one ConfigError naming the key to change.
"""
from typing import Any, Optional, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError

#: Side of the square probe input: every gml backbone (stride 32 at most)
#: reduces it to at least 1x1.
PROBE_SIZE = 32
PROBE_BATCH = 2


def _input_channels(backbone: nn.Module) -> int:
    """The channels of the backbone's first conv (3 when there is none)."""
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return 3


def _shape(t: Any) -> str:
    if isinstance(t, torch.Tensor):
        return '(N, ' + ', '.join(str(s) for s in t.shape[1:]) + ')'
    return type(t).__name__


def _last(feats: Any) -> Any:
    return feats[-1] if isinstance(feats, (tuple, list)) and feats else feats


def _probe(model: nn.Module) -> Optional[Tuple[Any, Any, Exception]]:
    """(features after the neck, logits or None, error or None); None when
    the backbone itself cannot run the probe (no verdict then)."""
    states = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        param = next(model.backbone.parameters(), None)
        x = torch.zeros(PROBE_BATCH, _input_channels(model.backbone),
                        PROBE_SIZE, PROBE_SIZE,
                        device=param.device if param is not None else None,
                        dtype=param.dtype if param is not None else None)
        with torch.no_grad():
            try:
                feats = model.backbone(x)
                if getattr(model, 'neck', None) is not None:
                    feats = model.neck(feats)
            except Exception:  # a backbone that needs other inputs
                return None
            try:
                return feats, model.head(feats), None
            except Exception as exc:  # the misfit this check is for
                return feats, None, exc
    finally:
        for module, training in states:
            module.training = training


def check_head_fits(model: nn.Module, prefix: str = 'model') -> None:
    """Raise a ConfigError when ``model.head`` does not take what
    ``model.backbone`` (and ``model.neck``) give: a map where the head wants
    flat features (no pooling neck), or a width the head cannot take (other
    than its ``in_channels``; a slice head takes any width up to it).
    The model's active architecture is probed (a supernet should have its
    largest subnet active)."""
    head = getattr(model, 'head', None)
    if head is None or getattr(model, 'backbone', None) is None:
        return
    result = _probe(model)
    if result is None:
        return
    feats, logits, error = result
    last = _last(feats)
    head_name = type(head).__name__
    backbone_name = type(model.backbone).__name__
    neck = getattr(model, 'neck', None)
    source = (f'the backbone {backbone_name} with the neck '
              f'{type(neck).__name__}' if neck is not None
              else f'the backbone {backbone_name}')
    in_channels = getattr(head, 'in_channels', None)
    num_classes = getattr(head, 'num_classes', None)
    wanted = f'(N, {in_channels})' if isinstance(in_channels, int) \
        else 'flat features (N, C)'
    # a map is wrong only where the head fails on it or passes it through
    # (logits with more than two dims); heads made for maps (CSRA) are fine
    misfit = error is not None or (isinstance(logits, torch.Tensor)
                                   and logits.dim() > 2)
    if isinstance(last, torch.Tensor) and last.dim() > 2 and misfit:
        if neck is None:
            raise ConfigError(
                f'{prefix}.neck: the head {head_name} expects {wanted}, '
                f'{source} gives {_shape(last)} and there is no neck; '
                "add neck=dict(type='GlobalAveragePooling')")
        raise ConfigError(
            f'{prefix}.neck: the head {head_name} expects {wanted}, '
            f'{source} gives {_shape(last)}; use a neck that flattens it, '
            "e.g. neck=dict(type='GlobalAveragePooling')")
    # a slice head (LinearClsHeadV2) runs on any width up to in_channels
    # (an exported subnet keeps the supernet's head), so only a head that
    # fails on the width is wrong
    if error is not None and isinstance(last, torch.Tensor) and \
            last.dim() == 2 and isinstance(in_channels, int) and \
            last.shape[1] != in_channels:
        raise ConfigError(
            f'{prefix}.head.in_channels: expected {last.shape[1]} (what '
            f'{source} gives: {_shape(last)}), found {in_channels}; set '
            f'in_channels={last.shape[1]}')
    if error is not None:
        raise ConfigError(
            f'{prefix}.head: the head {head_name} cannot take what {source} '
            f'gives ({_shape(last)}): {str(error).splitlines()[0]}')
    if isinstance(logits, torch.Tensor) and isinstance(num_classes, int) \
            and tuple(logits.shape) != (PROBE_BATCH, num_classes):
        raise ConfigError(
            f'{prefix}.head: expected logits (N, {num_classes}), found '
            f'{_shape(logits)} from {source} giving {_shape(last)}')
