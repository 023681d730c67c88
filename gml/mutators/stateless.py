"""Sampling subnet configurations of a supernet without keeping history."""
import random
from typing import Any, Dict, Optional

from ..errors import ConfigError
from ..registry import MODELS
from ..space import map_spaces, sample_of
from ..space.supernet import Supernet, require

KINDS = ('max', 'min', 'random')


# the design guide's spelling, and its name for the baseline sampler
@MODELS.register_module('RandomMutator')
@MODELS.register_module('StateslessMutator')
@MODELS.register_module()
class StatelessMutator:
    """Draws subnet configurations of a model's architecture space.

    The model (a :class:`gml.space.Supernet`) describes its space with
    ``arch_space()``: a tree of search spaces. ``sample('max')`` and
    ``sample('min')`` take every space's largest/smallest value,
    ``sample('random')`` an independent uniform draw per space. The mutator
    remembers nothing between draws (the baseline BigNAS sampler).

    Registered names: ``StatelessMutator``, ``StateslessMutator`` (the
    design guide's spelling) and ``RandomMutator`` (the guide's "baseline
    RandomMutator": uniform random subnets is exactly what this class
    draws), all the same class.

    Args:
        seed: seeds the random draws. None derives the seed from Python's
            global ``random`` state, which the Runner seeds from
            ``randomness.seed``: runs repeat, and every DDP process draws
            the same subnets.
    """

    def __init__(self, seed: Optional[int] = None):
        self.rng = random.Random(
            seed if seed is not None else random.getrandbits(64))
        self.space: Any = None

    def prepare(self, model) -> None:
        """Read the architecture space of ``model`` (a
        :class:`gml.space.Supernet`)."""
        require(model, Supernet, 'algorithm.model', 'a supernet',
                'use gml.ImageClassifierSearch with a slice backbone')
        self.space = model.arch_space()

    def sample(self, kind: str = 'random') -> Dict[str, Any]:
        """A subnet configuration: ``'max'``, ``'min'`` or ``'random'``."""
        if kind == 'max':
            return map_spaces(self.space, lambda s: s.max)
        if kind == 'min':
            return map_spaces(self.space, lambda s: s.min)
        if kind == 'random':
            return sample_of(self.space, self.rng)
        raise ConfigError(f'mutator.sample: kind must be one of {KINDS}, '
                          f'found {kind!r}')
