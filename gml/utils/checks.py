"""Checks of config values that name the key (pure Python, no torch).

Every check returns the value (converted where stated) or raises a
:class:`~gml.errors.ConfigError` whose message names ``key``, says what was
expected and shows what was found. Booleans are never numbers here: ``True``
is refused where an integer is expected.

:func:`is_int` and :func:`is_number` are the same type tests for callers
that word their own message or raise their own error type (the search
spaces raise :class:`~gml.space.SpaceError`).
"""
import math
from numbers import Integral, Real
from typing import Any, Iterable, Optional

from ..errors import ConfigError


def is_int(value: Any) -> bool:
    """True for an integer that is not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a real number (int or float) that is not a bool."""
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


def _outside(value, minimum, maximum, strict: bool) -> bool:
    if minimum is not None and (value <= minimum if strict
                                else value < minimum):
        return True
    return maximum is not None and value > maximum


def check_int(value: Any, key: str, minimum: Optional[int] = 0,
              maximum: Optional[int] = None, strict: bool = False) -> int:
    """``value`` as an int (not a bool) in ``[minimum, maximum]``, or
    ``(minimum, maximum]`` when ``strict``; ``None`` as a bound means
    unbounded on that side."""
    bad = not is_int(value) or _outside(value, minimum, maximum, strict)
    if bad:
        what = ' '.join(filter(None, ('an integer',
                                      _bounds(minimum, maximum, strict))))
        raise ConfigError(f'{key}: expected {what}, found {value!r}')
    return int(value)


def check_number(value: Any, key: str, minimum: Optional[float] = None,
                 maximum: Optional[float] = None,
                 strict: bool = False, finite: bool = False) -> float:
    """``value`` as a float (ints accepted, bools not, NaN never) in
    ``[minimum, maximum]``, or ``(minimum, maximum]`` when ``strict``;
    ``finite`` refuses the infinities too."""
    bad = not is_number(value) or value != value or \
        (finite and not isinstance(value, Integral) and
         not math.isfinite(value)) or \
        _outside(value, minimum, maximum, strict)
    if bad:
        what = ' '.join(filter(None, ('a finite number' if finite else
                                      'a number',
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
    if not is_int(value) or not low <= value <= high:
        raise ConfigError(f'{key}: expected an integer number of bits from '
                          f'{low} to {high}, found {value!r}')
    return int(value)


def check_seed(value: Any, key: str) -> Optional[int]:
    """A random seed: ``None`` or an integer >= 0."""
    return None if value is None else check_int(value, key, 0)
