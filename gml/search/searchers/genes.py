"""Helpers shared by the searchers: trial bookkeeping and a flat encoding.

:class:`TrialLog` records what a searcher has handed out and learned, so the
resume replay (``observe`` / ``mark_pending`` in trial order) rebuilds the
same state an uninterrupted run has. :class:`GeneCodec` turns a space tree
into a fixed-length vector of *genes* (one per searchable leaf, plus one per
``Nested`` choice) and back, which the model-based and evolutionary searchers
work on.
"""
import copy
import json
import random
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

from ...errors import ConfigError
from ...space import Int, Nested, Real, Space, SpaceError, validate_tree
from ...space.base import join_key
from .base import Searcher

Params = Dict[str, Any]


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


def derived_seed(seed: Any, *parts: Any) -> int:
    """A 63-bit integer seed that depends only on ``seed`` and ``parts``."""
    text = ':'.join(str(p) for p in (seed, ) + parts)
    return random.Random(text).getrandbits(63)


def base_seed(seed: Optional[int], key: str = 'searcher.seed') -> int:
    """The searcher's seed, or a fresh random one when none is configured."""
    if seed is None:
        return random.SystemRandom().getrandbits(63)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f'{key}: expected an integer, found {seed!r}')
    return seed


def check_prob(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0 <= value <= 1:
        raise ConfigError(f'{key}: expected a number in [0, 1], found '
                          f'{value!r}')
    return float(value)


def check_choice(value: Any, key: str, choices: Tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f'{key}: expected one of {", ".join(choices)}, '
                          f'found {value!r}')
    return value


class TrialLog:
    """Everything handed out and everything learned, in order.

    ``handed`` counts trials handed out so far (own suggestions plus trials
    replayed on resume); after a replay it equals the count an uninterrupted
    run had reached, which is what keeps seeded searchers reproducible.
    """

    def __init__(self) -> None:
        self.handed = 0
        self.results: List[Tuple[Params, Optional[float]]] = []
        self.pending: Counter = Counter()
        self.pending_params: Dict[str, Params] = {}
        self.seen: set = set()

    def issue(self, params: Params) -> None:
        """This searcher just suggested ``params``."""
        self._add_pending(params)

    def mark_pending(self, params: Params) -> None:
        """A replayed trial that has no result yet."""
        self._add_pending(params)

    def _add_pending(self, params: Params) -> None:
        key = params_key(params)
        self.handed += 1
        self.pending[key] += 1
        self.pending_params[key] = params
        self.seen.add(key)

    def observe(self, params: Params, reward: Optional[float]) -> None:
        key = params_key(params)
        if self.pending[key] > 0:
            self.pending[key] -= 1
            if not self.pending[key]:
                del self.pending[key]
                del self.pending_params[key]
        else:  # a finished trial replayed on resume
            self.handed += 1
        self.seen.add(key)
        self.results.append((params, reward))

    def pending_list(self) -> List[Params]:
        """Params of the trials still running (with multiplicity)."""
        return [self.pending_params[k] for k, n in self.pending.items()
                for _ in range(n)]

    def successes(self) -> List[Tuple[Params, float]]:
        return [(p, r) for p, r in self.results if r is not None]


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

    def sample(self, rng: random.Random) -> Any:
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
    def active(self, vector: List[Any]) -> List[bool]:
        """Which genes matter for ``vector`` (parents precede children)."""
        flags: List[bool] = []
        for gene in self.genes:
            if gene.parent is None:
                flags.append(True)
            else:
                pos, option = gene.parent
                flags.append(flags[pos] and vector[pos] == option)
        return flags

    def repair(self, vector: List[Any], rng: random.Random) -> List[Any]:
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

    def random(self, rng: random.Random) -> List[Any]:
        """A random vector (the active genes sampled in order)."""
        return self.repair([None] * len(self.genes), rng)

    def filled(self, vector: List[Any]) -> List[Any]:
        """``vector`` with inactive genes set to their defaults."""
        return [gene.default() if v is None else v
                for gene, v in zip(self.genes, vector)]

    # -- decoding ----------------------------------------------------------
    def decode(self, vector: List[Any]) -> Any:
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
    def encode(self, params: Any) -> Optional[List[Any]]:
        """The vector of a configuration, or None if it does not fit."""
        vector: List[Any] = [None] * len(self.genes)
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


class LoggedSearcher(Searcher):
    """A searcher whose whole state is a :class:`TrialLog`.

    ``observe`` and ``mark_pending`` record into ``self.log``, so replaying
    a task's trials on resume rebuilds the searcher exactly.
    """

    def __init__(self, space, optimize_mode: str = 'max',
                 seed: Optional[int] = None):
        super().__init__(space, optimize_mode, seed)
        self.log = TrialLog()

    def observe(self, params: Params, reward: Optional[float]) -> None:
        self.log.observe(params, reward)

    def mark_pending(self, params: Params) -> None:
        self.log.mark_pending(params)
