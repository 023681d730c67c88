"""Turning errors raised while building a config's parts into one clear
:class:`~gml.errors.ConfigError` that names the config key.

Every registry's build function is wrapped (:func:`watch_builds`) so that
an exception raised while building a part carries the part's config
(``exc.gml_part``), set by the innermost build that failed. The exception
itself is unchanged, so code that catches it behaves as before; only
:class:`translate_build_errors`, around the tools' building and training,
turns it into a ConfigError naming the key path, the class and the cause.
"""
import functools
import inspect
import re
from typing import Any, List, Optional

from mmengine.registry import Registry

from ..errors import ConfigError
from .names import _roots, _walk, typed_nodes, unknown_type_message

_UNKNOWN = re.compile(r'(\S+) is not in the (?:(\S+)::)?(\S+) registry')
_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")

#: top-level keys the run reads (the Runner's arguments and gml's)
_RUN_KEYS = {'model', 'algorithm', 'train_dataloader', 'val_dataloader',
             'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
             'optim_wrapper', 'param_scheduler', 'val_evaluator',
             'test_evaluator', 'default_hooks', 'custom_hooks',
             'data_preprocessor', 'visualizer', 'log_processor',
             'model_wrapper_cfg', 'auto_scale_lr', 'env_cfg'}

#: what constructors raise for a value or key they do not accept
BUILD_ERRORS = (TypeError, ValueError, AssertionError, KeyError, IndexError,
                RuntimeError, AttributeError)


def explain_unknown_type(exc: BaseException, cfg: Any = None) -> \
        Optional[str]:
    """Rephrase an mmengine "not in the registry" error, else None."""
    match = _UNKNOWN.search(str(exc))
    if match is None:
        return None
    obj_type, scope, name = match.groups()
    return unknown_type_message(obj_type.strip('`\'"'), scope, name, cfg)


# -- remembering which part failed -------------------------------------------

def _watching(build_func):
    if getattr(build_func, 'gml_watching', False):
        return build_func

    @functools.wraps(build_func)
    def build(cfg, *args, **kwargs):
        try:
            return build_func(cfg, *args, **kwargs)
        except BUILD_ERRORS as exc:
            if getattr(exc, 'gml_part', None) is None:
                try:
                    exc.gml_part = (dict(cfg), kwargs.get('registry'))
                except (TypeError, ValueError, AttributeError):
                    pass
            raise

    build.gml_watching = True
    return build


def watch_builds() -> None:
    """Wrap the build function of every registry that exists now (later
    children inherit their parent's wrapped function)."""
    for root in _roots():
        for registry in _walk(root):
            registry.build_func = _watching(registry.build_func)


# -- the message ---------------------------------------------------------------

def part_paths(cfg: Any, part: dict) -> List[str]:
    """Key paths in ``cfg`` of the dicts that ``part`` was built from: same
    type, and every key they set has the value ``part`` has."""
    if hasattr(cfg, 'to_dict'):
        cfg = cfg.to_dict()
    same = [(path, node) for path, node in typed_nodes(cfg)
            if node.get('type') == part.get('type')]
    def written(node):
        return {k: v for k, v in node.items() if k != '_delete_'}
    # the same keys and values; else a subset (a builder may add defaults)
    equal = [path for path, node in same if written(node) == part]
    within = [path for path, node in same
              if all(part.get(k) == v for k, v in written(node).items())]
    paths = equal or within or [path for path, _ in same]
    # a part copied from a helper variable (train_pipeline) is reported
    # where the run uses it
    used = [p for p in paths if re.split(r'[.\[]', p)[0] in _RUN_KEYS]
    return used or paths


def _class_of(part: dict, registry: Optional[Registry]):
    obj_type = part.get('type')
    if not isinstance(obj_type, str):
        return obj_type
    if registry is None:
        return None
    try:
        with registry.switch_scope_and_registry(part.get('_scope_')) as reg:
            return reg.get(obj_type)
    except Exception:  # noqa: BLE001 - only used to improve the message
        return None


def accepted_keywords(cls) -> Optional[List[str]]:
    """The keyword arguments ``cls`` (a class or function) takes, or None
    when it takes any (``**kwargs``) or cannot be inspected."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name != 'self'
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def part_error_message(exc: BaseException, cfg: Any = None) -> str:
    """One line: where the failing part is in ``cfg``, what it is, why."""
    part, registry = exc.gml_part
    obj_type = part.get('type')
    name = obj_type if isinstance(obj_type, str) else \
        getattr(obj_type, '__name__', repr(obj_type))
    where = part_paths(cfg, part) if cfg is not None else []
    if isinstance(exc, KeyError) and len(exc.args) == 1 and \
            isinstance(exc.args[0], str):
        # KeyError's str() quotes its argument: a word is a missing key or
        # choice, a sentence is a message
        word = exc.args[0]
        cause = word if ' ' in word.strip() else \
            f'no such key or choice {word!r}'
    else:
        cause = ' '.join(str(exc).split()) or type(exc).__name__
    message = (f"{', '.join(where) if where else name}: {name} cannot be "
               f'built from this config: {type(exc).__name__}: {cause}')
    cls = _class_of(part, registry)
    unexpected = _UNEXPECTED.search(cause)
    accepted = accepted_keywords(cls) if cls is not None and unexpected else None
    if accepted:
        message += f'; it takes {", ".join(accepted)}'
    return message


class translate_build_errors:
    """Context manager: re-raise errors of building a config's parts (and
    "not in registry" errors) as one ConfigError naming the key path."""

    def __init__(self, cfg: Any = None):
        self.cfg = cfg

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, ConfigError):
            return False
        message = explain_unknown_type(exc, self.cfg)
        if message is None and getattr(exc, 'gml_part', None) is not None:
            message = part_error_message(exc, self.cfg)
        if message is not None:
            raise ConfigError(message) from None
        return False
