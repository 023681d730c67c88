"""Which channels of a model must be pruned together, found with torch.fx.

Tracing the model once gives its data flow. Every tensor is tagged with the
*channel space* its dimension 1 belongs to; spaces are merged where the
model forces them to agree:

* a convolution (``groups == 1``) or linear layer reads one space and
  starts a new one (its output channels);
* a depthwise convolution and a BatchNorm keep the space of their input;
* ``a + b`` (a residual add) or ``a * b`` (an SE gate) merges the spaces of
  both operands;
* activations, pooling, dropout and flattening a ``N x C x 1 x 1`` tensor
  keep the space;
* the model's input and output spaces are fixed (never pruned), so the
  classifier's input follows the last stage and its output stays whole.

A merged space is a :class:`ChannelUnit`: it is prunable when a layer
produces it and nothing fixes it. Anything else a channel-carrying tensor
flows through is reported by name (``ConfigError``), unless the user lists
that module in ``fixed_layers`` (its channels are then kept).
"""
import operator
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from ...errors import ConfigError

CHANNEL_KEEPING_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Identity,
    nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.MaxPool2d, nn.AvgPool2d,
    nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Upsample)
CHANNEL_KEEPING_FUNCTIONS = {
    F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.mish,
    F.hardswish, F.hardsigmoid, F.dropout, F.adaptive_avg_pool2d,
    F.adaptive_max_pool2d, F.avg_pool2d, F.max_pool2d, F.interpolate,
    torch.relu, torch.sigmoid, torch.tanh, torch.flatten}
CHANNEL_KEEPING_METHODS = {'relu', 'relu_', 'sigmoid', 'tanh', 'contiguous',
                           'clone', 'flatten', 'view', 'reshape', 'mean'}
MERGING_FUNCTIONS = {operator.add, operator.iadd, operator.mul,
                     operator.imul, operator.sub, torch.add, torch.mul}
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)


@dataclass
class ChannelUnit:
    """Channels that must keep the same count: one width decision.

    Attributes:
        name: the first layer producing the channels (the unit's name in
            subnet configs).
        channels: the channel count of the unpruned model.
        producers: convs/linears whose output channels these are.
        consumers: convs/linears reading these channels.
        norms: BatchNorms over these channels.
        depthwise: depthwise convs over these channels.
        fixed: why the unit cannot be pruned ('' when it can).
    """
    name: str
    channels: int
    producers: List[str] = field(default_factory=list)
    consumers: List[str] = field(default_factory=list)
    norms: List[str] = field(default_factory=list)
    depthwise: List[str] = field(default_factory=list)
    fixed: str = ''

    @property
    def prunable(self) -> bool:
        return not self.fixed and bool(self.producers)


@dataclass
class CostTerm:
    """One conv/linear's multiply-accumulates: ``per_channel_pair *
    c_in * c_out`` (``c_in`` only for depthwise), widths taken from units.
    """
    module: str
    in_unit: Optional[str]
    out_unit: Optional[str]
    in_channels: int
    out_channels: int
    per_channel_pair: int  # kernel area x output positions (x rows, linear)
    depthwise: bool = False
    linear: bool = False

    def macs(self, c_in, c_out):
        if self.depthwise:
            return self.per_channel_pair * c_in
        return self.per_channel_pair * c_in * c_out


@dataclass
class ChannelGraph:
    """The units of a model and the cost terms of its convs and linears."""
    units: Dict[str, ChannelUnit]
    costs: List[CostTerm]
    # module name -> name of the unit of its *output* channels (masked
    # there: BNs, producers not followed by a BN, depthwise convs not
    # followed by a BN)
    mask_points: Dict[str, str]

    def prunable(self) -> Dict[str, ChannelUnit]:
        return {k: u for k, u in self.units.items() if u.prunable}

    def macs(self, widths: Dict[str, object]):
        """MACs with ``widths[unit]`` channels per prunable unit (ints,
        floats or tensors: the sum is differentiable); other units full."""
        total = 0
        for term in self.costs:
            c_in = widths.get(term.in_unit, term.in_channels)
            c_out = widths.get(term.out_unit, term.out_channels)
            total = total + term.macs(c_in, c_out)
        return total


class _Spaces:
    """Union-find over channel spaces."""

    def __init__(self):
        self.parent: List[int] = []
        self.channels: List[int] = []
        self.fixed: Dict[int, str] = {}

    def new(self, channels: int, fixed: str = '') -> int:
        self.parent.append(len(self.parent))
        self.channels.append(channels)
        if fixed:
            self.fixed[len(self.parent) - 1] = fixed
        return len(self.parent) - 1

    def find(self, space: int) -> int:
        while self.parent[space] != space:
            self.parent[space] = self.parent[self.parent[space]]
            space = self.parent[space]
        return space

    def merge(self, a: int, b: int, where: str) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        if self.channels[a] != self.channels[b]:
            raise ConfigError(f'{where}: joins {self.channels[a]} and '
                              f'{self.channels[b]} channels')
        self.parent[b] = a
        reason = self.fixed.pop(b, '')
        if reason and a not in self.fixed:
            self.fixed[a] = reason
        return a

    def fix(self, space: int, reason: str) -> None:
        self.fixed.setdefault(self.find(space), reason)


class _PathTracer(fx.Tracer):
    """An fx tracer that remembers which module it is inside, so a failure
    can name it."""

    def __init__(self):
        super().__init__()
        self.stack: List[str] = []

    def call_module(self, m, forward, args, kwargs):
        self.stack.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.stack.pop()


class _Root(nn.Module):
    """Traces ``model`` as a classifier: features, then the head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        model = self.model
        if hasattr(model, 'extract_feat') and hasattr(model, 'head'):
            return model.head(model.extract_feat(x))
        return model(x)


def _shape(node) -> Optional[Tuple[int, ...]]:
    meta = node.meta.get('tensor_meta') if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if hasattr(meta, 'shape') else None


def type_name(node, stack) -> str:
    if not stack:
        return 'the model'
    return node.meta['nn_module_stack'][stack[-1]][1].__name__


def _strip(target: str) -> str:
    return target[len('model.'):] if target.startswith('model.') else target


def trace_channel_graph(model: nn.Module, input_shape: Sequence[int],
                        fixed_layers: Sequence[str] = ()) -> ChannelGraph:
    """Trace ``model`` on a zero input of ``input_shape`` (N, C, H, W) and
    return its channel units and cost terms. Module names are relative to
    ``model``. ``fixed_layers``: modules whose channels are kept whole."""
    root = _Root(model)
    tracer = _PathTracer()
    try:
        graph = tracer.trace(root)
    except Exception as exc:  # fx reports data-dependent Python, etc.
        where = _strip(tracer.stack[-1]) if tracer.stack else 'the model'
        raise ConfigError(
            f'pruning: cannot trace {where!r} ({type(exc).__name__}: '
            f'{str(exc).splitlines()[0]}); channel pruning needs a model '
            'torch.fx can trace') from exc
    module = fx.GraphModule(root, graph)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(module).propagate(torch.zeros(*input_shape))
    finally:
        model.train(was_training)
    return _Analysis(module, set(fixed_layers)).run()


class _Analysis:

    def __init__(self, module: fx.GraphModule, fixed_layers: set):
        self.module = module
        self.fixed_layers = fixed_layers
        self.spaces = _Spaces()
        self.space_of: Dict[fx.Node, object] = {}
        self.members: List[Tuple[int, str, str]] = []  # (space, role, name)
        self.costs: List[Tuple[CostTerm, Optional[int], Optional[int]]] = []
        self.masks: List[Tuple[str, int, fx.Node]] = []

    # -- helpers ---------------------------------------------------------
    def _in(self, node) -> Optional[int]:
        value = self.space_of.get(node) if isinstance(node, fx.Node) \
            else None
        return value if isinstance(value, int) else None

    def _tensor_args(self, node) -> List[fx.Node]:
        return [a for a in node.all_input_nodes if self._in(a) is not None]

    def _unsupported(self, node, what: str):
        if node.op == 'call_module':
            where = f'{what} {_strip(str(node.target))!r}'
        else:  # name the innermost module whose forward calls it
            stack = list(node.meta.get('nn_module_stack') or {})
            inner = _strip(stack[-1]) if stack else 'model'
            where = f'{what} in {inner!r} ({type_name(node, stack)})'
        raise ConfigError(
            f'pruning: {where} mixes or reorders channels in a way gml '
            'cannot prune through; list that module in '
            'mutator.fixed_layers to keep its channels whole')

    def _inside_fixed(self, node) -> bool:
        stack = [_strip(k) for k in node.meta.get('nn_module_stack') or {}]
        if node.op == 'call_module':
            stack.append(_strip(node.target))
        return any(name in self.fixed_layers for name in stack)

    def _keep(self, node, source) -> None:
        self.space_of[node] = self._in(source)

    def _fix_all(self, node, reason: str) -> None:
        for arg in self._tensor_args(node):
            self.spaces.fix(self._in(arg), reason)
        shape = _shape(node)
        self.space_of[node] = self.spaces.new(shape[1], reason) \
            if shape and len(shape) >= 2 else None

    # -- node kinds -------------------------------------------------------
    def _module(self, node) -> None:
        name = _strip(node.target)
        m = self.module.get_submodule(node.target)
        source = node.args[0] if node.args else None
        space = self._in(source)
        if isinstance(m, nn.Conv2d):
            shape = _shape(node)
            positions = shape[2] * shape[3]
            kernel = m.kernel_size[0] * m.kernel_size[1]
            if m.groups == 1:
                out = self.spaces.new(m.out_channels)
                self.members += [(space, 'consumers', name),
                                 (out, 'producers', name)]
                self.costs.append((CostTerm(
                    name, None, None, m.in_channels, m.out_channels,
                    kernel * positions), space, out))
                self.masks.append((name, out, node))
                self.space_of[node] = out
                return None
            if m.groups == m.in_channels == m.out_channels:
                self.members.append((space, 'depthwise', name))
                self.costs.append((CostTerm(
                    name, None, None, m.in_channels, m.out_channels,
                    kernel * positions, depthwise=True), space, space))
                self.masks.append((name, space, node))
                return self._keep(node, source)
            return self._unsupported(node, f'grouped conv (groups='
                                     f'{m.groups})')
        if isinstance(m, nn.Linear):
            shape = _shape(node)
            rows = 1
            for d in shape[:-1]:
                rows *= d
            rows //= shape[0]  # per sample
            out = self.spaces.new(m.out_features)
            self.members += [(space, 'consumers', name),
                             (out, 'producers', name)]
            self.costs.append((CostTerm(name, None, None, m.in_features,
                                        m.out_features, rows, linear=True),
                               space, out))
            self.masks.append((name, out, node))
            self.space_of[node] = out
            return None
        if isinstance(m, NORMS):
            self.members.append((space, 'norms', name))
            self.masks.append((name, space, node))
            return self._keep(node, source)
        if isinstance(m, nn.Flatten):
            return self._flatten(node, source)
        if isinstance(m, CHANNEL_KEEPING_MODULES):
            return self._keep(node, source)
        if not self._tensor_args(node):
            self.space_of[node] = None
            return None
        return self._unsupported(node, f'layer ({type(m).__name__})')

    def _flatten(self, node, source) -> None:
        before, after = _shape(source), _shape(node)
        if before and after and len(after) >= 2 and after[1] == before[1] \
                and all(d == 1 for d in before[2:]):
            return self._keep(node, source)
        if before and after and before == after:
            return self._keep(node, source)
        if self.spaces.find(self._in(source)) in self.spaces.fixed:
            # e.g. flattening the model's input: nothing to prune there
            return self._fix_all(node, 'reshaped from fixed channels')
        return self._unsupported(node, 'reshape')

    def _function(self, node) -> None:
        target = node.target
        tensors = self._tensor_args(node)
        if target is operator.getitem:
            value = self.space_of.get(node.args[0])
            if isinstance(value, (tuple, list)):
                self.space_of[node] = value[node.args[1]]
                return None
            if tensors:
                return self._unsupported(node, 'indexing')
            self.space_of[node] = None
            return None
        if not tensors:
            self.space_of[node] = None
            return None
        if target in MERGING_FUNCTIONS:
            channel_args = [a for a in tensors
                            if (_shape(a) or (0, 1))[1] > 1]
            result = self._in(channel_args[0] if channel_args
                              else tensors[0])
            for other in channel_args[1:]:
                result = self.spaces.merge(result, self._in(other),
                                           f'pruning: {node.name}')
            self.space_of[node] = result
            return None
        if target is torch.flatten:
            return self._flatten(node, node.args[0])
        if target in CHANNEL_KEEPING_FUNCTIONS:
            return self._keep(node, node.args[0])
        name = getattr(target, '__name__', target)
        return self._unsupported(node, f'function {name}')

    def _method(self, node) -> None:
        source = node.args[0]
        if self._in(source) is None:
            self.space_of[node] = None
            return None
        if node.target in ('size', 'dim', 'numel'):
            self.space_of[node] = None
            return None
        if node.target in ('view', 'reshape', 'flatten'):
            return self._flatten(node, source)
        if node.target == 'mean':
            after = _shape(node)
            if after and len(after) >= 2 and after[1] == _shape(source)[1]:
                return self._keep(node, source)
            return self._unsupported(node, 'mean')
        if node.target in CHANNEL_KEEPING_METHODS:
            return self._keep(node, source)
        return self._unsupported(node, f'method .{node.target}()')

    def _output(self, node) -> None:
        def fix(value):
            space = self._in(value)
            if space is not None:
                self.spaces.fix(space, 'model output')
            return value
        fx.node.map_arg(node.args[0], fix)

    def run(self) -> ChannelGraph:
        for node in self.module.graph.nodes:
            if node.op == 'placeholder':
                shape = _shape(node)
                self.space_of[node] = self.spaces.new(shape[1],
                                                      'model input')
            elif node.op.startswith('call_') and self._inside_fixed(node) \
                    and self._tensor_args(node):
                self._fix_all(node, 'inside a fixed layer')
            elif node.op == 'call_module':
                self._module(node)
            elif node.op == 'call_function':
                self._function(node)
            elif node.op == 'call_method':
                self._method(node)
            elif node.op == 'output':
                self._output(node)
            else:
                self.space_of[node] = None
        return self._collect()

    def _collect(self) -> ChannelGraph:
        spaces = self.spaces
        roots: Dict[int, ChannelUnit] = {}
        for space, role, name in self.members:
            if space is None:
                continue
            root = spaces.find(space)
            unit = roots.get(root)
            if unit is None:
                unit = roots[root] = ChannelUnit(
                    name='', channels=spaces.channels[root],
                    fixed=spaces.fixed.get(root, ''))
            getattr(unit, role).append(name)
        for unit in roots.values():  # named by the layer producing it
            unit.name = unit.producers[0] if unit.producers else \
                'input of ' + (unit.norms + unit.depthwise +
                               unit.consumers)[0]
        units = {u.name: u for u in roots.values()}
        if not any(u.prunable for u in units.values()):
            raise ConfigError('pruning: the model has no prunable layer (no '
                              'conv or linear layer whose output channels '
                              'are free to shrink)')
        costs = []
        for term, in_space, out_space in self.costs:
            term.in_unit = roots[spaces.find(in_space)].name \
                if in_space is not None and spaces.find(in_space) in roots \
                else None
            term.out_unit = roots[spaces.find(out_space)].name
            costs.append(term)
        mask_points = {}
        for name, space, node in self.masks:
            unit = roots[spaces.find(space)]
            if not unit.prunable:
                continue
            users = list(node.users)
            followed_by_norm = len(users) == 1 and \
                users[0].op == 'call_module' and isinstance(
                    self.module.get_submodule(users[0].target), NORMS)
            if not followed_by_norm:
                mask_points[name] = unit.name
        return ChannelGraph(units, costs, mask_points)
