"""Checks of config values that name the key (pure Python, no torch).

Every check returns the value (converted where stated) or raises a
:class:`~gml.errors.ConfigError` whose message names ``key``, says what was
expected and shows what was found. Booleans are never numbers here: ``True``
is refused where an integer is expected.
"""
from numbers import Integral, Real
from typing import Any, Iterable, Optional

from ..errors import ConfigError


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _bounds(minimum, maximum, strict: bool) -> str:
    low = '>' if strict else '>='
    if minimum is not None and maximum is not None:
        return f'from {minimum} to {maximum}' if not strict else \
            f'in ({minimum}, {maximum}]'
    if minimum is not None:
        return f'{low} {minimum}'
    if maximum is not None:
        return f'<= {maximum}'
    return ''


def check_int(value: Any, key: str, minimum: Optional[int] = 0,
              maximum: Optional[int] = None) -> int:
    """``value`` as an int (not a bool) in ``[minimum, maximum]``; ``None``
    as a bound means unbounded on that side."""
    if not _is_int(value) or (minimum is not None and value < minimum) or \
            (maximum is not None and value > maximum):
        what = ' '.join(filter(None, ('an integer',
                                      _bounds(minimum, maximum, False))))
        raise ConfigError(f'{key}: expected {what}, found {value!r}')
    return int(value)


def check_number(value: Any, key: str, minimum: Optional[float] = None,
                 maximum: Optional[float] = None,
                 strict: bool = False) -> float:
    """``value`` as a float (ints accepted, bools not) in ``[minimum,
    maximum]``, or ``(minimum, maximum]`` when ``strict``."""
    bad = not _is_number(value) or value != value
    if not bad and minimum is not None:
        bad = value <= minimum if strict else value < minimum
    if not bad and maximum is not None:
        bad = value > maximum
    if bad:
        what = ' '.join(filter(None, ('a number',
                                      _bounds(minimum, maximum, strict))))
        raise ConfigError(f'{key}: expected {what}, found {value!r}')
    return float(value)


def check_prob(value: Any, key: str) -> float:
    """``value`` as a float in ``[0, 1]``."""
    return check_number(value, key, 0, 1)


def check_bool(value: Any, key: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0/1 or a string)."""
    if not isinstance(value, bool):
        raise ConfigError(f'{key}: expected true or false, found {value!r}')
    return value


def check_choice(value: Any, key: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared with ``==``)."""
    choices = list(choices)
    if not any(value == c and type(value) is type(c) for c in choices):
        listed = ', '.join(repr(c) for c in choices)
        raise ConfigError(f'{key}: expected one of {listed}, found '
                          f'{value!r}')
    return value


def check_bits(value: Any, key: str, low: int = 1, high: int = 32) -> int:
    """A bit width: an integer from ``low`` to ``high``."""
    if not _is_int(value) or not low <= value <= high:
        raise ConfigError(f'{key}: expected an integer number of bits from '
                          f'{low} to {high}, found {value!r}')
    return int(value)


def check_seed(value: Any, key: str) -> Optional[int]:
    """A random seed: ``None`` or an integer >= 0."""
    return None if value is None else check_int(value, key, 0)
