"""gml's registries and the builders that use them.

Every registry here is a child of mmengine's root of the same name, under the
scope ``gml``. A config names gml parts as ``type='gml.X'`` or, as the design
guide writes them, unprefixed: an unprefixed name that the config's default
scope does not know but gml does is read as ``gml.X`` (see
:func:`qualify_gml_types`); names the default scope knows keep their meaning.
mmpretrain parts are ``type='mmpretrain.X'`` (or unprefixed under
``default_scope='mmpretrain'``). Older configs written for mmcls keep working:
the scope ``mmcls`` resolves to mmpretrain's registries.

Algorithms have their own root registry, :data:`ALGORITHMS`, built by
:func:`build_algorithm`.
"""
from typing import Any, Optional

from ..errors import ConfigError
from ..utils.config import load_config
from .build_errors import (accepted_keywords, explain_unknown_type,
                           translate_build_errors, watch_builds)
from .names import find_key_paths, qualify_gml_types, unknown_type_message
from .registries import (ALGORITHMS, DATASETS, HOOKS, LOOPS, METRICS,
                         MODEL_WRAPPERS, MODELS, TRANSFORMS)

watch_builds()

__all__ = ['ALGORITHMS', 'DATASETS', 'HOOKS', 'LOOPS', 'METRICS',
           'MODEL_WRAPPERS', 'MODELS', 'TRANSFORMS', 'accepted_keywords',
           'build_algorithm',
           'build_model', 'explain_unknown_type', 'find_key_paths',
           'qualify_gml_types', 'translate_build_errors',
           'unknown_type_message']


def _current_scope() -> Optional[str]:
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    return current.scope_name if current is not None else None


def build_algorithm(cfg: dict, default_model: Optional[Any] = None):
    """Build an algorithm from ``cfg`` (the ``algorithm=dict(...)`` block).

    ``cfg['model']`` may be a model config dict, a path to a config file whose
    ``model`` is used, or an ``nn.Module``. When the block has no ``model``,
    ``default_model`` (the config's top-level ``model``) is used. Keys the
    algorithm does not take are rejected, never silently ignored.
    """
    qualify_gml_types(cfg, _current_scope())
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
    required = [name for name, p in params.items()
                if name != 'self' and p.default is p.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    missing = [name for name in required if name not in args]
    if missing:
        raise ConfigError(f'{key}.{missing[0]}: expected a value '
                          f'({cls.__name__} needs {", ".join(missing)}), '
                          f'found none')
    accepted = accepted_keywords(cls)
    if accepted is None:
        return
    unknown = sorted(set(args) - set(accepted))
    if unknown:
        raise ConfigError(f'{key}: {cls.__name__} does not take '
                          f'{", ".join(unknown)}; it takes '
                          f'{", ".join(sorted(accepted))}')


def build_model(cfg: Any, key: str = 'model'):
    """Build a model from a config dict, a config file path or a module;
    ``key`` is where the config came from, for messages."""
    import torch.nn as nn
    if isinstance(cfg, nn.Module):
        return cfg
    if isinstance(cfg, str):
        try:
            model_cfg = load_config(cfg).get('model')
        except ConfigError as exc:
            raise ConfigError(f'{key}: {exc}') from None
        if model_cfg is None:
            raise ConfigError(f'{key}: {cfg}: the config has no `model` to '
                              'build')
        cfg = model_cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigError(f'{key}: expected a dict with a `type` key, a '
                          f'config path or a module, found {cfg!r}')
    qualify_gml_types(cfg, _current_scope())
    with translate_build_errors(dict(model=cfg)):
        model = MODELS.build(cfg)
    # a head that does not take what the backbone gives: one line now,
    # not an error deep in the first loss
    from ..models.classifiers.head_fit import check_head_fits
    check_head_fits(model, key)
    return model
