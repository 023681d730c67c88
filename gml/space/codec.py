"""A space tree as a flat vector of genes, and the genetic operators on it.

:class:`GeneCodec` turns a tree of spaces into a fixed-length vector (one
*gene* per searchable leaf, plus one per ``Nested`` choice) and back. Its
:meth:`~GeneCodec.mutate` and :meth:`~GeneCodec.crossover` are the one set
of genetic operators gml has: HPO's evolution searcher
(:class:`gml.search.searchers.EvolutionSearcher`) and NAS's subnet evolution
(:class:`gml.algorithms.nas.SubnetEvolution`) both breed with them.
Every random choice comes from the ``random.Random`` passed in, so a seeded
generator gives the same children.

Pure Python, like all of :mod:`gml.space`.
"""
import copy
import json
import math
import random as _random
from typing import Any, List, Optional, Tuple

from .base import Space, SpaceError, join_key
from .integer import Int
from .nested import Nested
from .real import Real
from .tree import validate_tree

Vector = List[Any]

#: neighbour step of an ordinal gene: this share of its (log) range wide
LOCAL_WIDTH = 0.1


def params_key(params: Any) -> str:
    """Canonical JSON of a configuration: equal configurations, equal keys.

    Tuples and lists compare equal (both become JSON arrays); objects JSON
    does not know are compared through ``repr``.
    """
    try:
        return json.dumps(params, sort_keys=True, separators=(',', ':'),
                          default=repr)
    except TypeError:  # dict keys of mixed types cannot be sorted
        return repr(params)


class Gene:
    """One position of the flat vector.

    ``kind`` is ``'real'`` (value: the float), or ``'index'`` (value: the
    index into ``Int``/``Categorical``/``File`` values or ``Nested``
    options). ``parent`` is ``(gene position, option index)`` of the
    ``Nested`` choice that must hold for this gene to matter, or None.
    """

    def __init__(self, path: str, space: Space,
                 parent: Optional[Tuple[int, int]]):
        self.path, self.space, self.parent = path, space, parent
        if isinstance(space, Real):
            self.kind, self.size = 'real', 0
        elif isinstance(space, Nested):
            self.kind, self.size = 'index', len(space.options)
        else:  # Int, Categorical, File and any other finite space
            self.kind, self.size = 'index', len(space.grid())
        self.values = None if self.kind == 'real' or \
            isinstance(space, Nested) else space.grid()

    @property
    def ordinal(self) -> bool:
        """Values with a meaningful order (a neighbourhood to step into)."""
        return self.kind == 'real' or isinstance(self.space, Int)

    @property
    def mutable(self) -> bool:
        return self.kind == 'real' or self.size > 1

    def sample(self, rng: _random.Random) -> Any:
        if self.kind == 'real':
            return float(self.space.sample(rng))
        return rng.randrange(self.size)

    def default(self) -> Any:
        space = self.space
        if self.kind == 'real':
            return float(space.default)
        if isinstance(space, Nested):
            return space.default_index
        return self.index_of(space.default)

    def index_of(self, value: Any) -> int:
        assert self.values is not None
        for i, v in enumerate(self.values):
            if v == value and type(v) is type(value):
                return i
        key = params_key(value)
        for i, v in enumerate(self.values):
            if params_key(v) == key:
                return i
        raise SpaceError(f'{self.path}: {value!r} is not a value of the '
                         'space')

    def value(self, gene: Any) -> Any:
        """The configuration value a leaf gene stands for."""
        if self.kind == 'real':
            return min(max(float(gene), self.space.lower), self.space.upper)
        return copy.deepcopy(self.values[int(gene)])

    def changed(self, old: Any, rng: _random.Random,
                local_share: float = 0.0,
                local_width: float = LOCAL_WIDTH) -> Any:
        """A new value for this gene, different from ``old`` for an index.

        An index gene takes another index drawn uniformly. A ``Real`` gene
        is resampled uniformly. With probability ``local_share`` an ordinal
        gene (``Real``, or ``Int`` with more than two values) steps to a
        neighbour instead: a Gaussian step ``local_width`` (default
        ``LOCAL_WIDTH``) of its (log) range wide, reflected into the range.
        """
        local = local_share > 0
        if self.kind == 'real':
            if local and rng.random() < local_share:
                return self._real_step(old, rng, local_width)
            return float(self.space.sample(rng))
        if local and self.ordinal and self.size > 2 and \
                rng.random() < local_share:
            width = max(1.0, local_width * self.size)
            step = 0
            while step == 0:
                step = int(round(rng.gauss(0.0, width)))
            for target in (old + step, old - step):
                if 0 <= target < self.size:
                    return target
        other = rng.randrange(self.size - 1)
        return other + 1 if other >= old else other

    def _real_step(self, old: float, rng: _random.Random,
                   width: float = LOCAL_WIDTH) -> float:
        space = self.space
        log = space.log
        lo, hi = (math.log(space.lower), math.log(space.upper)) if log \
            else (space.lower, space.upper)
        x = math.log(old) if log else old
        x += rng.gauss(0.0, width * (hi - lo))
        while x < lo or x > hi:  # reflect into the interval
            x = 2 * lo - x if x < lo else 2 * hi - x
        x = math.exp(x) if log else x
        return min(max(x, space.lower), space.upper)


class GeneCodec:
    """A space tree as a fixed-length vector of genes, and back.

    Leaves are visited in :func:`~gml.space.iter_spaces` order; a ``Nested``
    space contributes its choice gene followed by the genes of every option.
    Genes under an option that is not chosen are *inactive* and are None in
    encoded vectors.
    """

    def __init__(self, tree: Any):
        self.tree = tree
        self.genes: List[Gene] = []
        self._collect(tree, '', None)

    def __len__(self) -> int:
        return len(self.genes)

    def _collect(self, node: Any, path: str,
                 parent: Optional[Tuple[int, int]]) -> None:
        if isinstance(node, Space):
            position = len(self.genes)
            self.genes.append(Gene(path, node, parent))
            if isinstance(node, Nested):
                for i, option in enumerate(node.options):
                    self._collect(option, join_key(join_key(path, 'data'), i),
                                  (position, i))
        elif isinstance(node, dict):
            for k, v in node.items():
                self._collect(v, join_key(path, k), parent)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                self._collect(v, join_key(path, i), parent)

    # -- activity ------------------------------------------------------------
    def active(self, vector: Vector) -> List[bool]:
        """Which genes matter for ``vector`` (parents precede children)."""
        flags: List[bool] = []
        for gene in self.genes:
            if gene.parent is None:
                flags.append(True)
            else:
                pos, option = gene.parent
                flags.append(flags[pos] and vector[pos] == option)
        return flags

    def repair(self, vector: Vector, rng: _random.Random) -> Vector:
        """Sample active genes that are None; set inactive genes to None."""
        out = list(vector)
        flags: List[bool] = []
        for i, gene in enumerate(self.genes):
            if gene.parent is None:
                on = True
            else:
                pos, option = gene.parent
                on = flags[pos] and out[pos] == option
            flags.append(on)
            if not on:
                out[i] = None
            elif out[i] is None:
                out[i] = gene.sample(rng)
        return out

    def random(self, rng: _random.Random) -> Vector:
        """A random vector (the active genes sampled in order)."""
        return self.repair([None] * len(self.genes), rng)

    def filled(self, vector: Vector) -> Vector:
        """``vector`` with inactive genes set to their defaults."""
        return [gene.default() if v is None else v
                for gene, v in zip(self.genes, vector)]

    # -- genetic operators -------------------------------------------------
    def mutate(self, vector: Vector, rng: _random.Random, prob: float,
               at_least_one: bool = False,
               local_share: float = 0.0,
               local_width: float = LOCAL_WIDTH) -> Vector:
        """A mutant of ``vector``.

        Each active gene that can change is picked with probability
        ``prob`` (one draw per gene, in order); every picked gene then takes
        a different value (:meth:`Gene.changed`, in order). With
        ``at_least_one``, a uniformly chosen gene is picked when no draw
        picked any, so the mutant always differs. ``prob`` 0 (without
        ``at_least_one``) returns ``vector`` unchanged. ``local_share`` and
        ``local_width`` shape the changes of ordinal genes
        (:meth:`Gene.changed`). A changed ``Nested``
        choice switches genes on or off; the ones switched on are sampled.
        """
        child = list(vector)
        flags = self.active(child)
        candidates = [i for i, (gene, on) in enumerate(zip(self.genes, flags))
                      if on and gene.mutable]
        picked = [i for i in candidates if rng.random() < prob]
        if at_least_one and not picked and candidates:
            picked = [rng.choice(candidates)]
        for i in picked:
            child[i] = self.genes[i].changed(child[i], rng, local_share,
                                             local_width)
        return self.repair(child, rng)

    def crossover(self, a: Vector, b: Vector, rng: _random.Random) -> Vector:
        """Uniform crossover: each gene from ``a`` or ``b`` with probability
        0.5 (one draw per gene, ``a`` when it is below 0.5); from the other
        parent when the picked one does not use that gene. Genes a chosen
        ``Nested`` option needs that neither parent has are sampled."""
        child = []
        for x, y in zip(a, b):
            first, second = (x, y) if rng.random() < 0.5 else (y, x)
            child.append(first if first is not None else second)
        return self.repair(child, rng)

    # -- decoding ----------------------------------------------------------
    def decode(self, vector: Vector) -> Any:
        """The configuration a vector stands for."""
        pos = [0]

        def walk(node: Any, on: bool) -> Any:
            if isinstance(node, Space):
                i = pos[0]
                pos[0] += 1
                gene = self.genes[i]
                if not isinstance(node, Nested):
                    return gene.value(vector[i]) if on else None
                chosen = int(vector[i]) if on else -1
                result = None
                for j, option in enumerate(node.options):
                    sub = walk(option, on and j == chosen)
                    if j == chosen:
                        result = sub
                return result
            if isinstance(node, dict):
                return {k: walk(v, on) for k, v in node.items()}
            if isinstance(node, (list, tuple)):
                return [walk(v, on) for v in node]
            return copy.deepcopy(node) if on else None

        return walk(self.tree, True)

    # -- encoding ----------------------------------------------------------
    def encode(self, params: Any) -> Optional[Vector]:
        """The vector of a configuration, or None if it does not fit."""
        vector: Vector = [None] * len(self.genes)
        pos = [0]

        def skip(node: Any) -> None:
            if isinstance(node, Space):
                pos[0] += 1
                if isinstance(node, Nested):
                    for option in node.options:
                        skip(option)
            elif isinstance(node, dict):
                for v in node.values():
                    skip(v)
            elif isinstance(node, (list, tuple)):
                for v in node:
                    skip(v)

        def walk(node: Any, value: Any) -> None:
            if isinstance(node, Space):
                i = pos[0]
                pos[0] += 1
                gene = self.genes[i]
                if isinstance(node, Nested):
                    chosen = None
                    for j, option in enumerate(node.options):
                        try:
                            validate_tree(option, value)
                            chosen = j
                            break
                        except SpaceError:
                            continue
                    if chosen is None:
                        raise SpaceError(f'{gene.path}: no option fits')
                    vector[i] = chosen
                    for j, option in enumerate(node.options):
                        if j == chosen:
                            walk(option, value)
                        else:
                            skip(option)
                elif gene.kind == 'real':
                    vector[i] = float(node.validate(value))
                else:
                    vector[i] = gene.index_of(value)
            elif isinstance(node, dict):
                if not isinstance(value, dict):
                    raise SpaceError('expected a dict')
                for k, v in node.items():
                    walk(v, value[k])
            elif isinstance(node, (list, tuple)):
                if not isinstance(value, (list, tuple)) or \
                        len(value) != len(node):
                    raise SpaceError('expected a list')
                for v, item in zip(node, value):
                    walk(v, item)

        try:
            walk(self.tree, params)
        except (SpaceError, KeyError, TypeError, ValueError):
            return None
        return vector


__all__ = ['Gene', 'GeneCodec', 'LOCAL_WIDTH', 'Vector', 'params_key']
