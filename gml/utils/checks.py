"""Checks of config values that report the key (pure Python)."""
from typing import Any

from ..errors import ConfigError


def check_int(value: Any, key: str, minimum: int = 0) -> int:
    """``value`` if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or \
            value < minimum:
        raise ConfigError(f'{key}: expected an integer >= {minimum}, found '
                          f'{value!r}')
    return value
