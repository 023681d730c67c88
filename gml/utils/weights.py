"""Loading weights into a module from checkpoints written by anyone."""
import functools
import os
import zipfile
from typing import Any, Dict, Iterable, Optional

import torch
import torch.nn as nn

from ..errors import ConfigError
from .files import atomic_path

# prefixes that wrappers add in front of a plain model's keys
WRAPPER_PREFIXES = ('module.', 'model.', 'architecture.', 'student.')


def load_checkpoint_file(path: str, key: str = 'CHECKPOINT',
                         map_location='cpu') -> Any:
    """``torch.load`` of a trusted local file; a missing file or one torch
    cannot read (random bytes, a truncated copy) is one ConfigError naming
    ``key``, the config key or argument the path came from."""
    if not os.path.isfile(path):
        raise ConfigError(f'{key}: checkpoint not found: {path}')
    try:
        return torch.load(path, map_location=map_location,
                          weights_only=False)
    except Exception as exc:  # torch.load fails in many ways on bad files
        lines = str(exc).strip().splitlines()
        detail = f': {lines[0]}' if lines else ''
        raise ConfigError(f'{key}: {path} is not a readable checkpoint '
                          f'({type(exc).__name__}{detail})') from None


def check_checkpoint_file(path: str, key: str) -> None:
    """Check, without unpickling, that ``path`` is a whole checkpoint.

    torch writes zip archives: one whose entries all pass their CRC check
    and that holds a pickle is whole. Anything else (an older torch format,
    or not a checkpoint at all) is loaded once to find out.
    """
    if not os.path.isfile(path):
        raise ConfigError(f'{key}: checkpoint not found: {path}')
    stat = os.stat(path)
    verdict = _zip_verdict(os.path.abspath(path), stat.st_size,
                           stat.st_mtime_ns)
    if verdict == 'whole':
        return
    if verdict == 'damaged':
        raise ConfigError(f'{key}: {path} is not a readable checkpoint '
                          f'(a damaged or foreign zip archive)')
    load_checkpoint_file(path, key)


@functools.lru_cache(maxsize=64)
def _zip_verdict(path: str, size: int, mtime_ns: int) -> str:
    """'whole', 'damaged' or 'not zip', read once per version of a file
    (``tools/test.py`` checks its checkpoint as an argument and again as
    the config's ``load_from``)."""
    if not zipfile.is_zipfile(path):
        return 'not zip'
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return 'damaged'
    whole = broken is None and any(n.endswith('data.pkl') for n in names)
    return 'whole' if whole else 'damaged'


def read_state_dict(path: str, key: str = 'CHECKPOINT'
                    ) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint, with or without a ``state_dict`` key."""
    ckpt = load_checkpoint_file(path, key)
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


def _differences(state: Dict[str, torch.Tensor],
                 expected: Dict[str, torch.Tensor]):
    """(missing, unexpected, shape-mismatched) keys of ``state``."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected)
                    if state[k].shape != expected[k].shape)
    return missing, unexpected, shapes


def _misfit_message(what, path, state, expected, missing, unexpected,
                    shapes) -> str:
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
            [f'{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}'
             for k in shapes]))
    return f'{what}: {path} does not fit the model; ' + '; '.join(parts)


def check_checkpoint_fits(module: nn.Module, path: str, what: str) -> None:
    """Refuse a checkpoint of another model before it is evaluated.

    mmengine loads ``load_from`` leniently (mismatches are logged, the rest
    stays randomly initialised), which would test a random model. Here a
    shape mismatch of a parameter, or a checkpoint holding under half of the
    model's parameters, is one ConfigError; parameters some algorithms
    leave out of their checkpoints (a frozen teacher) may be missing.
    """
    state = read_state_dict(path, what)
    expected = module.state_dict()
    state = match_prefix(state, expected)
    # parameters only: some buffers take their shape from the checkpoint
    # when loaded (observers of quantization-aware training)
    params = {name for name, _ in module.named_parameters()}
    expected = {k: v for k, v in expected.items() if k in params}
    missing, unexpected, shapes = _differences(state, expected)
    if shapes or len(missing) * 2 > len(expected):
        raise ConfigError(_misfit_message(what, path, state, expected,
                                          missing, [], shapes))


def load_weights(module: nn.Module, path: str, what: str,
                 strict: bool = True, prefix: Optional[str] = None,
                 ignore: Iterable[str] = ()) -> None:
    """Load ``path`` into ``module``; mismatches raise a clear ConfigError.

    ``prefix`` selects a sub-tree of the checkpoint (e.g. ``'model.'``);
    without it, common wrapper prefixes are removed automatically. Keys of
    ``module`` containing one of ``ignore`` are not expected in the file.
    """
    state = read_state_dict(path, what)
    ignore = tuple(ignore)
    expected = {k: v for k, v in module.state_dict().items()
                if not any(part in k for part in ignore)}
    state = _strip(state, prefix) if prefix else match_prefix(state, expected)
    missing, unexpected, shapes = _differences(state, expected)
    if strict and (missing or unexpected or shapes):
        raise ConfigError(_misfit_message(what, path, state, expected,
                                          missing, unexpected, shapes))
    module.load_state_dict({k: v for k, v in state.items()
                            if k in expected and k not in shapes},
                           strict=False)
