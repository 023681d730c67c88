"""Name tables for searchers, assessors and schedulers.

A plain-Python registry (no mmengine) so the ``search-*`` commands start
fast. ``build`` turns ``dict(type=..., **args)`` into an object and reports
mistakes as ConfigError naming the config key.
"""
import difflib
import inspect
from typing import Any, Callable, Dict, Type

from ..errors import ConfigError


class NameTable:
    """Maps the ``type`` names a YAML config uses to classes."""

    def __init__(self, kind: str):
        self.kind = kind
        self.classes: Dict[str, Type] = {}

    def register(self, *aliases: str) -> Callable[[Type], Type]:
        """Class decorator: register under the class name and ``aliases``."""
        def decorate(cls: Type) -> Type:
            for name in (cls.__name__, ) + aliases:
                self.classes[name] = cls
            return cls
        return decorate

    def get(self, name: Any, key: str) -> Type:
        if name in self.classes:
            return self.classes[name]
        close = difflib.get_close_matches(str(name), list(self.classes), n=3)
        hint = f'; did you mean {", ".join(close)}?' if close else ''
        raise ConfigError(f'{key}.type: unknown {self.kind} {name!r}; '
                          f'expected one of {sorted(set(self.classes))}{hint}')

    def build(self, cfg: Dict[str, Any], key: str, **extra: Any) -> Any:
        """Build ``cfg``; unknown or missing arguments name ``key``."""
        if not isinstance(cfg, dict):
            raise ConfigError(f'{key}: expected a mapping, found {cfg!r}')
        args = dict(cfg)
        cls = self.get(args.pop('type'), key)
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            unknown = sorted(set(args) - set(params))
            if unknown:
                accepted = sorted(set(params) - {'self'} - set(extra))
                raise ConfigError(f'{key}: {cls.__name__} does not take '
                                  f'{", ".join(unknown)}; it takes '
                                  f'{", ".join(accepted)}')
        try:
            return cls(**extra, **args)
        except TypeError as exc:
            raise ConfigError(f'{key}: {cls.__name__}: {exc}') from None


SEARCHERS = NameTable('searcher')
ASSESSORS = NameTable('assessor')
SCHEDULERS = NameTable('scheduler')
