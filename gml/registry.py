"""gml's registries and the builders that use them.

Every registry here is a child of mmengine's root of the same name, under the
scope ``gml``. A config therefore names gml parts as ``type='gml.X'`` and
mmpretrain parts as ``type='mmpretrain.X'`` (or unprefixed under
``default_scope='mmpretrain'``). Older configs written for mmcls keep working:
the scope ``mmcls`` resolves to mmpretrain's registries.

Algorithms have their own root registry, :data:`ALGORITHMS`, built by
:func:`build_algorithm`.
"""
import difflib
import re
import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine import registry as mme
from mmengine.registry import Registry

from .errors import ConfigError
from .utils.config import LEGACY_SCOPES, load_config

MODELS = Registry('model', parent=mme.MODELS, scope='gml',
                  locations=['gml.models', 'gml.algorithms', 'gml.mutators',
                             'gml.evaluators'])
DATASETS = Registry('dataset', parent=mme.DATASETS, scope='gml',
                    locations=['gml.datasets'])
TRANSFORMS = Registry('transform', parent=mme.TRANSFORMS, scope='gml',
                      locations=['gml.datasets'])
HOOKS = Registry('hook', parent=mme.HOOKS, scope='gml',
                 locations=['gml.engine'])
LOOPS = Registry('loop', parent=mme.LOOPS, scope='gml',
                 locations=['gml.engine'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=mme.MODEL_WRAPPERS,
                          scope='gml', locations=['gml.engine'])
METRICS = Registry('metric', parent=mme.METRICS, scope='gml',
                   locations=['gml.engine'])

ALGORITHMS = Registry('algorithm', scope='gml', locations=['gml.algorithms'])


def _alias_legacy_scopes() -> None:
    """Let ``mmcls.X`` find ``X`` in mmpretrain's registries.

    mmengine resolves a foreign scope prefix through the ``_children`` table of
    the root registry, so each mmpretrain registry is entered there a second
    time under the old scope name.
    """
    # mmcv-lite has no compiled ops; mmpretrain warns about it on import.
    warnings.filterwarnings('ignore', message='Fail to import')
    import mmpretrain.registry as mmpretrain_registry
    for value in vars(mmpretrain_registry).values():
        if isinstance(value, Registry) and value.scope == 'mmpretrain' \
                and value.parent is not None:
            for old in LEGACY_SCOPES:
                value.parent._children.setdefault(old, value)


_alias_legacy_scopes()


def build_algorithm(cfg: dict, default_model: Optional[Any] = None):
    """Build an algorithm from ``cfg`` (the ``algorithm=dict(...)`` block).

    ``cfg['model']`` may be a model config dict, a path to a config file whose
    ``model`` is used, or an ``nn.Module``. When the block has no ``model``,
    ``default_model`` (the config's top-level ``model``) is used. Keys the
    algorithm does not take are rejected, never silently ignored.
    """
    args = dict(cfg)
    if args.get('model') is None:
        if default_model is None:
            raise ConfigError('algorithm.model: expected the model to wrap '
                              '(a dict, a config path, or a top-level '
                              '`model` in the config), found none')
        args['model'] = default_model
    obj_type = args.pop('type', None)
    if obj_type is None:
        raise ConfigError('algorithm.type: expected the name of an algorithm, '
                          'found none')
    # Looked up without switching scope: the models inside an algorithm are
    # built under the config's default scope (usually mmpretrain).
    algorithm_cls = ALGORITHMS.get(obj_type) if isinstance(obj_type, str) \
        else obj_type
    if algorithm_cls is None:
        raise ConfigError(unknown_type_message(
            obj_type, ALGORITHMS.scope, ALGORITHMS.name,
            dict(algorithm=dict(cfg))))
    _check_arguments(algorithm_cls, args, 'algorithm')
    with translate_build_errors(dict(algorithm=dict(cfg))):
        return algorithm_cls(**args)


def _check_arguments(cls, args: dict, key: str) -> None:
    """Reject config keys that ``cls``'s constructor does not take."""
    import inspect
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(args) - set(params) - {'self'})
    if unknown:
        accepted = sorted(set(params) - {'self'})
        raise ConfigError(f'{key}: {cls.__name__} does not take '
                          f'{", ".join(unknown)}; it takes {", ".join(accepted)}')


def build_model(cfg: Any):
    """Build a model from a config dict, a config file path or a module."""
    import torch.nn as nn
    if isinstance(cfg, nn.Module):
        return cfg
    if isinstance(cfg, str):
        model_cfg = load_config(cfg).get('model')
        if model_cfg is None:
            raise ConfigError(f'{cfg}: the config has no `model` to build')
        cfg = model_cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError(f'model: expected a dict with a `type` key, found '
                          f'{cfg!r}')
    with translate_build_errors(dict(model=cfg)):
        return MODELS.build(cfg)


# -- turning mmengine's "not in the registry" errors into clear messages -----

_UNKNOWN = re.compile(r'(\S+) is not in the (?:(\S+)::)?(\S+) registry')


def _roots() -> List[Registry]:
    roots = [v for v in vars(mme).values() if isinstance(v, Registry)]
    return roots + [ALGORITHMS]


def _walk(registry: Registry) -> Iterator[Registry]:
    yield registry
    for child in set(registry._children.values()):
        yield from _walk(child)


def _candidates(scope: Optional[str], name: str) -> Tuple[List[str], str]:
    """Every name visible from the registry ``scope::name``, and a label."""
    for root in _roots():
        if root.name != name:
            continue
        current = root._search_child(scope) if scope else root
        current = current or root
        names = set()
        node = current
        while node is not None:
            node.import_from_location()
            names.update(node.module_dict)
            node = node.parent
        for other in _walk(root):
            if other is not current and other.scope != root.scope:
                names.update(f'{other.scope}.{k}' for k in other.module_dict)
        return sorted(names), f'{current.scope}::{name}'
    return [], f'{scope}::{name}'


def find_key_paths(cfg: Any, value: str, key: str = '') -> List[str]:
    """The dotted paths of every ``type`` key in ``cfg`` equal to ``value``."""
    found = []
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            path = f'{key}.{k}' if key else str(k)
            if k == 'type' and v == value:
                found.append(path)
            else:
                found.extend(find_key_paths(v, value, path))
    elif isinstance(cfg, (list, tuple)):
        for i, v in enumerate(cfg):
            found.extend(find_key_paths(v, value, f'{key}[{i}]'))
    return found


def unknown_type_message(obj_type: str, scope: Optional[str], name: str,
                         cfg: Any = None) -> str:
    """Explain that ``obj_type`` is not in the registry ``scope::name``.

    Names the config keys that use the type and the closest registered names.
    """
    names, label = _candidates(scope, name)
    bare = obj_type.split('.')[-1].lower()
    lowered: Dict[str, str] = {}
    for n in names:
        lowered.setdefault(n.split('.')[-1].lower(), n)
        lowered.setdefault(n.lower(), n)
    close = difflib.get_close_matches(bare, list(lowered), n=5, cutoff=0.6)
    suggestions = sorted({lowered[c] for c in close})
    if hasattr(cfg, 'to_dict'):
        cfg = cfg.to_dict()
    where = find_key_paths(cfg, obj_type) if cfg is not None else []
    message = (f"unknown type {obj_type!r}"
               + (f" at {', '.join(where)}" if where else '')
               + f": searched the {label} registry and its parents")
    if suggestions:
        return message + '; close matches: ' + ', '.join(suggestions)
    return message + '; no similar name is registered'


def explain_unknown_type(exc: BaseException, cfg: Any = None) -> \
        Optional[str]:
    """Rephrase an mmengine "not in the registry" error, else None."""
    match = _UNKNOWN.search(str(exc))
    if match is None:
        return None
    obj_type, scope, name = match.groups()
    return unknown_type_message(obj_type.strip('`\'"'), scope, name, cfg)


class translate_build_errors:
    """Context manager: re-raise "not in registry" errors as ConfigError."""

    def __init__(self, cfg: Any = None):
        self.cfg = cfg

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, ConfigError):
            return False
        message = explain_unknown_type(exc, self.cfg)
        if message is not None:
            raise ConfigError(message) from None
        return False
