"""What a supernet offers: the contract between models, mutators,
algorithms and the search/export tools.

Two levels, each a runtime-checkable :class:`typing.Protocol`:

* :class:`Supernet`, the model (``gml.ImageClassifierSearch``): the tree of
  spaces its subnets are drawn from, and a way to activate one of them.
  Mutators, BigNAS, subnet search and subnet export need exactly this.
* :class:`SupernetBackbone`, the weight-sharing backbone inside it (every
  ``gml.models.backbones`` slice backbone): its own space, its largest and
  smallest subnets, and drop-path that an algorithm can set.

``isinstance(x, Supernet)`` checks the members are there (not their
signatures); :func:`require` does the same and raises a ConfigError that
names what is missing. Pure Python, like all of :mod:`gml.space`.
"""
from typing import Any, List, Protocol, Type, runtime_checkable

from ..errors import ConfigError


@runtime_checkable
class Supernet(Protocol):
    """A model whose subnets share its weights."""

    def arch_space(self) -> Any:
        """The tree of spaces a subnet configuration is drawn from."""

    def set_subnet(self, config: Any) -> None:
        """Run as the subnet ``config`` (a configuration of
        :meth:`arch_space`) from now on."""


@runtime_checkable
class SupernetBackbone(Protocol):
    """A slice backbone: weights of its largest subnet, run at any other."""

    #: the tree of spaces of this backbone's subnets
    search_space: Any
    #: the drop-path ratio it was built with (0: none)
    drop_path_ratio: float

    def set_subnet(self, config: Any) -> None:
        """Activate ``config`` (same structure as :attr:`search_space`)."""

    def max_subnet(self) -> Any:
        """The configuration of every space's largest value."""

    def min_subnet(self) -> Any:
        """The configuration of every space's smallest value."""

    def set_drop_path(self, ratio: float) -> None:
        """Drop residual branches at ``ratio`` (scaled per block by the
        backbone's schedule) from now on; 0 switches drop-path off."""


def missing_members(obj: Any, protocol: Type) -> List[str]:
    """The members of ``protocol`` that ``obj`` does not have."""
    names = [n for n in vars(protocol) if not n.startswith('_')]
    names += [n for n in getattr(protocol, '__annotations__', {})
              if n not in names]
    return [n for n in names if not hasattr(obj, n)]


def require(obj: Any, protocol: Type, key: str, what: str,
            hint: str = '') -> Any:
    """``obj`` if it follows ``protocol``; else a ConfigError under ``key``
    saying it is not ``what`` (e.g. ``'a supernet'``), naming the members
    it lacks, then ``hint``."""
    if isinstance(obj, protocol):
        return obj
    missing = ', '.join(missing_members(obj, protocol))
    raise ConfigError(f'{key}: {type(obj).__name__} is not {what} (it has '
                      f'no {missing}){"; " + hint if hint else ""}')


__all__ = ['Supernet', 'SupernetBackbone', 'missing_members', 'require']
