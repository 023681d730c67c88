"""Loading weights into a module from checkpoints written by anyone."""
import os
from typing import Dict, Iterable, Optional

import torch
import torch.nn as nn

from ..errors import ConfigError
from .files import atomic_path

# prefixes that wrappers add in front of a plain model's keys
WRAPPER_PREFIXES = ('module.', 'model.', 'architecture.', 'student.')


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint, with or without a ``state_dict`` key."""
    if not os.path.isfile(path):
        raise ConfigError(f'checkpoint not found: {path}')
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    if isinstance(ckpt, dict):
        for key in ('state_dict', 'model', 'model_state_dict'):
            if isinstance(ckpt.get(key), dict):
                ckpt = ckpt[key]
                break
    if not isinstance(ckpt, dict):
        raise ConfigError(f'{path}: not a checkpoint of tensors '
                          f'({type(ckpt).__name__})')
    return {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}


def write_checkpoint(path: str, state_dict: Dict[str, torch.Tensor],
                     **meta) -> str:
    """Save ``{'state_dict': state_dict, 'meta': meta}`` at ``path``, whole
    or not at all (what :func:`read_state_dict` and mmengine's
    ``load_from`` read); returns ``path``."""
    with atomic_path(path) as tmp:
        torch.save({'state_dict': state_dict, 'meta': meta}, tmp)
    return path


def _strip(state: Dict[str, torch.Tensor], prefix: str):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def match_prefix(state: Dict[str, torch.Tensor], expected: Iterable[str],
                 prefixes=WRAPPER_PREFIXES) -> Dict[str, torch.Tensor]:
    """Remove wrapper prefixes until the keys best match ``expected``."""
    expected = set(expected)
    best, best_hits = state, len(expected & set(state))
    frontier = [state]
    for _ in range(3):  # e.g. module.model.<key>
        grown = []
        for current in frontier:
            for prefix in prefixes:
                stripped = _strip(current, prefix)
                if not stripped:
                    continue
                hits = len(expected & set(stripped))
                if hits > best_hits:
                    best, best_hits = stripped, hits
                grown.append(stripped)
        frontier = grown
    return best


def load_weights(module: nn.Module, path: str, what: str,
                 strict: bool = True, prefix: Optional[str] = None,
                 ignore: Iterable[str] = ()) -> None:
    """Load ``path`` into ``module``; mismatches raise a clear ConfigError.

    ``prefix`` selects a sub-tree of the checkpoint (e.g. ``'model.'``);
    without it, common wrapper prefixes are removed automatically. Keys of
    ``module`` containing one of ``ignore`` are not expected in the file.
    """
    try:
        state = read_state_dict(path)
    except ConfigError as exc:
        raise ConfigError(f'{what}: {exc}') from None
    ignore = tuple(ignore)
    expected = {k: v for k, v in module.state_dict().items()
                if not any(part in k for part in ignore)}
    state = _strip(state, prefix) if prefix else match_prefix(state, expected)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected)
                    if state[k].shape != expected[k].shape)
    if strict and (missing or unexpected or shapes):
        def listing(keys):
            return ', '.join(keys[:5]) + (f' (+{len(keys) - 5} more)'
                                          if len(keys) > 5 else '')
        parts = []
        if missing:
            parts.append(f'missing keys: {listing(missing)}')
        if unexpected:
            parts.append(f'unexpected keys: {listing(unexpected)}')
        if shapes:
            parts.append('shape mismatch: ' + listing(
                [f'{k} {tuple(state[k].shape)} vs '
                 f'{tuple(expected[k].shape)}' for k in shapes]))
        raise ConfigError(f'{what}: {path} does not fit the model; '
                          + '; '.join(parts))
    module.load_state_dict({k: v for k, v in state.items()
                            if k in expected and k not in shapes},
                           strict=False)
