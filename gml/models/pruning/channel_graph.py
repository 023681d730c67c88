"""Prunable channel units of a model, their costs and where they are read.

:func:`~.channel_trace.trace_channels` ties the channel atoms that must be
kept or dropped together; each tied set is one *element* (a channel, or a
whole group of a grouped conv, or channels a shuffle keeps in step). A
:class:`ChannelUnit` is the elements of the layers whose output channels
share elements (a residual stage, a conv and the depthwise conv and SE gate
that follow it, ...): one width decision, kept as its *leading* elements in
the order the first producing layer makes them.

A unit is *fixed* (never pruned) when one of its elements is: the model's
input or output, an operation gml cannot prune through (named in
``fixed``), or a module listed in ``fixed_layers``.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ...errors import ConfigError
from .channel_trace import ChannelTrace, MaskPoint, trace_channels


@dataclass
class ChannelUnit:
    """One width decision.

    Attributes:
        name: the first layer producing the channels (the unit's name in
            subnet configs).
        channels: the channel count of that layer (the unit's full width);
            where that layer does not hold every element equally often
            (shuffled units), the element count.
        elements: how many elements the unit keeps or drops; a width is a
            multiple of ``step = channels // elements``.
        producers: the layers whose output channels belong to the unit.
        fixed: why the unit cannot be pruned ('' when it can).
    """
    name: str
    channels: int
    elements: int
    producers: List[str] = field(default_factory=list)
    fixed: str = ''

    @property
    def step(self) -> int:
        return self.channels // self.elements

    @property
    def prunable(self) -> bool:
        return not self.fixed


@dataclass
class _Count:
    """A width as ``const + sum(per_unit[u] * fraction kept of u)``."""
    const: int
    per_unit: Dict[str, int]

    def value(self, widths: Dict[str, object], units) -> object:
        total = self.const
        for name, count in self.per_unit.items():
            width = widths.get(name)
            if width is None:
                total = total + count
            else:
                total = total + count * width / units[name].channels
        return total


class ChannelGraph:
    """The units of a traced model, its MACs as a function of the widths,
    the element index of every channel a layer reads (for masks) and of
    every parameter dim (for cutting)."""

    def __init__(self, trace: ChannelTrace):
        self.trace = trace
        roots = trace.atoms.roots()
        self.units: Dict[str, ChannelUnit] = {}
        self._classes: Dict[str, List[int]] = {}
        self._build_units(roots)
        # element index of every atom: offset of its unit + its rank there;
        # atoms of no prunable unit map to the last slot (always kept)
        prunable = self.prunable()
        self.offsets: Dict[str, int] = {}
        total = 0
        for name, unit in prunable.items():
            self.offsets[name] = total
            total += unit.elements
        self.num_elements = total
        element_of_root = torch.full((len(roots),), total, dtype=torch.long)
        self.unit_of_element = []
        for name in prunable:
            classes = torch.tensor(self._classes[name], dtype=torch.long)
            element_of_root[classes] = self.offsets[name] + \
                torch.arange(len(classes))
            self.unit_of_element += [name] * len(classes)
        self.element_of_atom = element_of_root[roots]
        self.costs = [(term.module, term.per_pair, self._count(term.c_in),
                       self._count(term.c_out)) for term in trace.costs]

    # -- units ---------------------------------------------------------------
    def _build_units(self, roots: torch.Tensor) -> None:
        fixed = {self.trace.atoms.find(a): r
                 for a, r in self.trace.atoms.fixed.items()}
        unit_of_class: Dict[int, str] = {}
        for module, _, atoms in self.trace.producers:
            classes = list(dict.fromkeys(roots[atoms].tolist()))
            joined = list(dict.fromkeys(unit_of_class[c] for c in classes
                                        if c in unit_of_class))
            if joined:
                name = joined[0]
                for other in joined[1:]:  # two units meet: one decision
                    for c in self._classes.pop(other):
                        unit_of_class[c] = name
                        self._classes[name].append(c)
                    self.units[name].producers += \
                        self.units.pop(other).producers
                unit = self.units[name]
                if module not in unit.producers:
                    unit.producers.append(module)
            else:
                name = module
                while name in self.units:  # a layer producing twice
                    name += "'"
                unit = self.units[name] = ChannelUnit(
                    name, channels=len(atoms), elements=0,
                    producers=[module])
                self._classes[name] = []
            for c in classes:
                if c not in unit_of_class:
                    unit_of_class[c] = name
                    self._classes[name].append(c)
        for name, unit in self.units.items():
            classes = self._classes[name]
            unit.elements = len(classes)
            reasons = [fixed[c] for c in classes if c in fixed]
            if reasons:
                unit.fixed = reasons[0]
            elif unit.channels % unit.elements or self._uneven(name, roots):
                unit.channels = unit.elements  # widths count elements
            if not unit.fixed and unit.elements == 1 and unit.channels > 1:
                unit.fixed = 'all its channels are read together (a ' \
                    'reduction, a fixed-size slice or a reshape over them)'

    def _uneven(self, name: str, roots: torch.Tensor) -> bool:
        """Whether the first producer holds the unit's elements unevenly."""
        module = self.units[name].producers[0]
        atoms = next(a for m, _, a in self.trace.producers if m == module)
        counts = torch.unique(roots[atoms], return_counts=True)[1]
        return len(counts) != self.units[name].elements or \
            bool((counts != counts[0]).any())

    def prunable(self) -> Dict[str, ChannelUnit]:
        return {k: u for k, u in self.units.items() if u.prunable}

    def fixed_units(self) -> Dict[str, str]:
        """Each unit kept whole, with the reason."""
        return {k: u.fixed for k, u in self.units.items() if u.fixed}

    # -- counting --------------------------------------------------------------
    def _count(self, term) -> _Count:
        if isinstance(term, int):
            return _Count(term, {})
        elements = self.element_of_atom[term.clamp(min=0)]
        elements[term < 0] = self.num_elements
        per_unit: Dict[str, int] = {}
        const = 0
        for e in elements.tolist():
            if e == self.num_elements:
                const += 1
            else:
                unit = self.unit_of_element[e]
                per_unit[unit] = per_unit.get(unit, 0) + 1
        return _Count(const, per_unit)

    def macs(self, widths: Dict[str, object]):
        """MACs with ``widths[unit]`` channels per prunable unit (ints,
        floats or tensors: the sum is differentiable); other units full."""
        total = 0
        for _, per_pair, c_in, c_out in self.costs:
            total = total + per_pair * c_in.value(widths, self.units) * \
                c_out.value(widths, self.units)
        return total

    # -- element indices -------------------------------------------------------
    def element_index(self, atoms: torch.Tensor) -> torch.Tensor:
        """The element slot of each atom (``num_elements``: always kept)."""
        index = self.element_of_atom[atoms.clamp(min=0)]
        index[atoms < 0] = self.num_elements
        return index

    def keep_vector(self, subnet: Dict[str, int]) -> torch.Tensor:
        """A bool per element slot (plus the always-kept last one)."""
        keep = torch.ones(self.num_elements + 1, dtype=torch.bool)
        for name, offset in self.offsets.items():
            unit = self.units[name]
            width = subnet.get(name, unit.channels)
            keep[offset + int(width) // unit.step:
                 offset + unit.elements] = False
        return keep

    def mask_points(self) -> List[MaskPoint]:
        return [p for p in self.trace.masks
                if bool((self.element_index(p.atoms) <
                         self.num_elements).any())]

    def cuts(self, subnet: Dict[str, int]) -> Dict[str, Dict[int, torch.Tensor]]:
        """The kept indices of every parameter dim ``subnet`` shrinks."""
        keep = self.keep_vector(subnet)
        cuts: Dict[str, Dict[int, torch.Tensor]] = {}
        for name, dims in self.trace.param_dims.items():
            for dim, atoms in dims.items():
                kept = keep[self.element_index(atoms)]
                if not bool(kept.all()):
                    cuts.setdefault(name, {})[dim] = \
                        torch.nonzero(kept).flatten()
        return cuts


def trace_channel_graph(model: nn.Module, input_shape: Sequence[int],
                        fixed_layers: Sequence[str] = ()) -> ChannelGraph:
    """Run ``model`` once on a zero input of ``input_shape`` (N, C, H, W)
    and return its channel units. Module names are relative to ``model``.
    ``fixed_layers``: modules whose channels are kept whole."""
    names = dict(model.named_modules())
    unknown = [n for n in fixed_layers if n not in names]
    if unknown:
        raise ConfigError(f'mutator.fixed_layers: the model has no module '
                          f'{unknown[0]!r}')
    try:
        trace = trace_channels(model, input_shape, fixed_layers)
    except (RuntimeError, ValueError, TypeError, AssertionError,
            IndexError) as exc:
        raise ConfigError(
            f'pruning: the model does not run on input_shape '
            f'{tuple(input_shape)} ({type(exc).__name__}: '
            f'{str(exc).splitlines()[0] if str(exc) else ""}); set '
            'mutator.input_shape to a shape the model accepts') from exc
    graph = ChannelGraph(trace)
    if not graph.prunable():
        reasons = sorted(set(graph.fixed_units().values()))
        raise ConfigError(
            'pruning: the model has no prunable layer (no conv or linear '
            'layer whose output channels are free to shrink'
            + (f'; kept whole: {"; ".join(reasons[:3])}' if reasons else '')
            + ')')
    return graph


def unit_report(graph: ChannelGraph, limit: int = 3) -> Optional[str]:
    """Which units are kept whole and why, in one line (None: every unit
    but the model's input and output is prunable)."""
    fixed = [(name, reason) for name, reason in graph.fixed_units().items()
             if reason not in ('model input', 'model output')]
    if not fixed:
        return None
    shown = '; '.join(f'{name}: {reason}' for name, reason in fixed[:limit])
    more = f'; and {len(fixed) - limit} more' if len(fixed) > limit else ''
    return f'{len(fixed)} unit(s) kept whole: {shown}{more}'
