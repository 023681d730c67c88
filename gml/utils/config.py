"""Loading mmengine configs with clear messages for the usual mistakes."""
import os
from typing import Any, Optional, Sequence

from ..errors import ConfigError

LEGACY_SCOPES = {'mmcls': 'mmpretrain'}


def load_config(path: str, cfg_options: Optional[dict] = None):
    """Read a config file; missing files and syntax errors become ConfigError.

    ``cfg_options`` (from ``--cfg-options``) are merged in. Scopes of older
    configs (``mmcls``) are mapped to their successors (``mmpretrain``), and
    unprefixed gml names are qualified (:func:`gml.registry.qualify_gml_types`).
    """
    from mmengine.config import Config
    if not os.path.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    from .legacy_imports import legacy_imports
    try:
        # custom_imports of mmcv-era modules (the ActNN guide's hook) see
        # mmengine and gml in place of mmcv.runner, mmcv.parallel, actnn
        with legacy_imports():
            cfg = Config.fromfile(path)
    except SyntaxError as exc:
        line = f' (line {exc.lineno})' if exc.lineno else ''
        raise ConfigError(f'{path}: syntax error{line}: {exc.msg}') from None
    except FileNotFoundError as exc:
        raise ConfigError(f'{path}: a file it refers to does not exist: '
                          f'{exc.filename or exc}') from None
    except (NameError, KeyError, AttributeError, ImportError,
            TypeError, ValueError) as exc:
        raise ConfigError(f'{path}: cannot be evaluated: '
                          f'{type(exc).__name__}: {exc}') from None
    from .legacy_keys import LEGACY_KEYS, translate_legacy_keys
    # options on mmcv-era keys join them before they are translated; the
    # other options come after, so they override what those keys became
    options = dict(cfg_options or {})
    legacy = {k: options.pop(k) for k in list(options)
              if k.split('.')[0] in LEGACY_KEYS}
    _merge_options(cfg, legacy)
    translate_legacy_keys(cfg)
    _merge_options(cfg, options)
    normalize_legacy_scopes(cfg)
    from ..registry import qualify_gml_types
    qualify_gml_types(cfg, cfg.get('default_scope'))
    return cfg


def _merge_options(cfg, options: dict) -> None:
    if not options:
        return
    try:
        cfg.merge_from_dict(options)
    except Exception as exc:  # mmengine raises several types here
        raise ConfigError(f'--cfg-options {options}: {exc}') from None


def normalize_legacy_scopes(cfg: Any) -> Any:
    """Rename old scope names in ``default_scope`` and ``_scope_`` keys
    (in dicts, and in mmengine's ``Config``, which is not a dict)."""
    if isinstance(cfg, dict) or (hasattr(cfg, 'keys') and
                                 hasattr(cfg, '__setitem__')):
        for key in ('default_scope', '_scope_'):
            if cfg.get(key) in LEGACY_SCOPES:
                cfg[key] = LEGACY_SCOPES[cfg[key]]
        for value in cfg.values():
            normalize_legacy_scopes(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            normalize_legacy_scopes(value)
    return cfg


def parse_cfg_options(pairs: Optional[Sequence[str]]) -> dict:
    """Parse ``key=value`` strings as mmengine's DictAction does."""
    if not pairs:
        return {}
    from mmengine.config import DictAction
    options: dict = {}
    for pair in pairs:
        if '=' not in pair:
            raise ConfigError(f'--cfg-options: expected key=value, found '
                              f'{pair!r}')
        key, value = pair.split('=', maxsplit=1)
        options[key] = DictAction._parse_iterable(value)
    return options
