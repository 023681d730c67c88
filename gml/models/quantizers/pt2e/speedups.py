"""Two of torchao's pt2e helpers, made fast with the same results.

- ``find_sequential_partitions`` (the x86 quantizer's search for conv ->
  BN -> add -> ReLU chains and the like) tries every combination of one
  partition of each type, the product of their counts: 3.5e8
  connectivity checks, 4 minutes of ``prepare`` on MobileOne-s0 (191
  convolutions). :func:`find_sequential_partitions` walks from each
  partition to the partitions using its outputs instead, and returns the
  same chains in the same order.
- ``_get_aten_graph_module_for_pattern`` traces a small pattern function
  with ``torch.export`` on every call: 114 traces (20 s on 2 CPU cores)
  in every ``convert_pt2e``, more in every ``prepare_qat_pt2e`` and
  train/eval switch of a captured graph, whatever the model. A pattern's
  graph depends only on its code, the values it closes over and the
  shapes of its example inputs: :func:`cached_pattern` traces each once
  per process and hands out copies.

:func:`fast_passes` installs both while torchao runs (gml's prepare,
convert and train/eval switches); it puts the originals back after.
"""
import contextlib
import copy
import itertools
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

#: pattern key -> the traced pattern graph (never handed out itself)
_PATTERNS: Dict[Tuple, Any] = {}
_ORIGINALS: Dict[str, Callable] = {}


def find_sequential_partitions(gm, partition_types: List[Any],
                               include_functional_equivalent: bool = True,
                               filter_fn: Optional[Callable] = None):
    """torchao's ``find_sequential_partitions``: every tuple (p1, ..., pk),
    pi a source partition of ``partition_types[i]`` (or an equivalent
    type), in which each pi has a node used by a node of p(i+1); in the
    order of ``itertools.product`` over the partition lists. Linear in
    the graph's size times the number of chains found."""
    from torch.fx.passes.utils.source_matcher_utils import \
        get_source_partitions
    from torchao.quantization.pt2e import graph_utils
    if not graph_utils._valid_type_sequence(partition_types):
        # torchao's own ValueError
        return _ORIGINALS['find_sequential_partitions'](
            gm, partition_types, include_functional_equivalent, filter_fn)
    typed = []
    for partition_type in partition_types:
        found = get_source_partitions(
            gm.graph, graph_utils._get_matching_types(partition_type),
            filter_fn)
        typed.append(list(itertools.chain.from_iterable(found.values())))
    # for each type after the first: node -> the partitions holding it
    holders = []
    for partitions in typed[1:]:
        holder: Dict[Any, List[int]] = {}
        for i, partition in enumerate(partitions):
            for node in partition.nodes:
                holder.setdefault(node, []).append(i)
        holders.append(holder)
    chains = []

    def extend(chain: list, depth: int) -> None:
        if depth == len(typed) - 1:
            chains.append(tuple(chain))
            return
        holder = holders[depth]
        following = sorted({i for node in chain[-1].nodes
                            for user in node.users
                            for i in holder.get(user, ())})
        for i in following:
            chain.append(typed[depth + 1][i])
            extend(chain, depth + 1)
            chain.pop()

    if typed:
        for partition in typed[0]:
            extend([partition], 0)
    return chains


def _describe(value) -> Any:
    """A hashable stand-in for an example input: tensors by shape, dtype,
    device and whether they need a gradient (their values do not enter
    the traced graph)."""
    if isinstance(value, torch.Tensor):
        return ('tensor', tuple(value.shape), value.dtype, value.device.type,
                value.requires_grad)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, ) + tuple(_describe(v) for v in value)
    return value


def _pattern_key(pattern, example_inputs, is_cuda, kwargs) -> Optional[Tuple]:
    from torchao.quantization.pt2e.export_utils import WrapperModule
    wrapped = type(pattern) is WrapperModule  # a function as a module
    if wrapped:
        pattern = pattern.fn
    code = getattr(pattern, '__code__', None)
    if code is None:
        return None
    try:
        closure = tuple(cell.cell_contents
                        for cell in pattern.__closure__ or ())
    except ValueError:  # an empty cell
        return None
    key = (wrapped, code, closure, pattern.__defaults__,
           _describe(tuple(example_inputs)), bool(is_cuda),
           tuple(sorted((k, _describe(v)) for k, v in kwargs.items())))
    try:
        hash(key)
    except TypeError:  # closes over something unhashable: trace it
        return None
    return key


def cached_pattern(pattern: Callable, example_inputs: Tuple[Any, ...],
                   is_cuda: bool = False, **kwargs):
    """torchao's ``_get_aten_graph_module_for_pattern``, traced once per
    pattern (code, closed-over values, example input shapes) and copied
    afterwards. Closed-over tensors count by identity, so a pattern that
    bakes a tensor in is traced again for another tensor."""
    trace = _ORIGINALS['_get_aten_graph_module_for_pattern']
    key = _pattern_key(pattern, example_inputs, is_cuda, kwargs)
    if key is None:
        return trace(pattern, example_inputs, is_cuda, **kwargs)
    if key not in _PATTERNS:
        _PATTERNS[key] = trace(pattern, example_inputs, is_cuda, **kwargs)
    return copy.deepcopy(_PATTERNS[key])


def _targets():
    from torchao.quantization.pt2e import graph_utils, qat_utils, utils
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer
    _ORIGINALS.setdefault('find_sequential_partitions',
                          graph_utils.find_sequential_partitions)
    _ORIGINALS.setdefault('_get_aten_graph_module_for_pattern',
                          utils._get_aten_graph_module_for_pattern)
    return [(x86_inductor_quantizer, 'find_sequential_partitions',
             find_sequential_partitions),
            (utils, '_get_aten_graph_module_for_pattern', cached_pattern),
            (qat_utils, '_get_aten_graph_module_for_pattern',
             cached_pattern)]


@contextlib.contextmanager
def fast_passes():
    """Run torchao's pt2e passes with the fast helpers above."""
    saved = []
    try:
        for module, name, replacement in _targets():
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, replacement)
        yield
    finally:
        for module, name, previous in reversed(saved):
            setattr(module, name, previous)
