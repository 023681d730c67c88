"""Turning errors raised while building a config's parts into one clear
:class:`~gml.errors.ConfigError` that names the config key."""
import re
from typing import Any, Optional

from ..errors import ConfigError
from .names import unknown_type_message


_UNKNOWN = re.compile(r'(\S+) is not in the (?:(\S+)::)?(\S+) registry')


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
