"""Which channels of a model must be kept or dropped together, found by
running the model once.

The model runs one forward pass (eval mode, no gradients) under a
``TorchDispatchMode`` that sees every ATen operation with real tensors and
real shapes, so any forward works: Python control flow, shape checks and
helper functions need no symbolic tracing. Every element of every tensor
carries a *channel label*: an atom id (``-1``: no channel, e.g. a constant).

* a convolution or linear layer starts new atoms for its output channels;
  its weight's input dimension is recorded against the labels it reads;
* shape operations (view, permute, cat, split, slice, shuffle, pad, ...)
  are replayed on the label tensors, so labels follow the data;
* elementwise operations (tag ``pointwise``: adds, products, activations,
  ``x / 6``, where) *tie* the atoms that meet at each position: they must be
  kept or dropped together;
* a layer that reads a dimension as channels (conv, linear, norms), a
  reduction, a pooling window or a slice of baked size ties the atoms along
  the dimensions it mixes, so a pruned model stays equivalent;
* a grouped convolution ties each group's input and output channels (whole
  groups are pruned);
* anything else (attention kernels, matmuls of two activations, unknown
  operations) *fixes* the atoms it touches, with the reason.

The result is a :class:`ChannelTrace`; :mod:`.channel_graph` turns it into
prunable units.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

aten = torch.ops.aten

# labels follow the data unchanged (same shape, same elements)
SAME = {aten.clone, aten._to_copy, aten.detach, aten.alias, aten.lift_fresh,
        aten.lift_fresh_copy, aten.contiguous, aten.dropout,
        aten.feature_dropout}
# shape operations replayed on the label tensors
RESHAPES = {aten.view, aten._unsafe_view, aten.reshape, aten._reshape_alias,
            aten.flatten, aten.unflatten}
SLICES = {aten.slice, aten.narrow}
WHOLE_DIM = {aten.select, aten.unbind, aten.roll, aten.index_select}
SPLITS = {aten.split, aten.split_with_sizes, aten.chunk, aten.tensor_split}
REPLAYED = RESHAPES | SLICES | WHOLE_DIM | SPLITS | {
    aten.permute, aten.transpose, aten.t, aten.expand, aten.unsqueeze,
    aten.squeeze, aten.cat, aten.concat, aten.stack, aten.flip,
    aten.repeat, aten.pixel_shuffle, aten.pixel_unshuffle,
    aten.constant_pad_nd, aten.movedim, aten.expand_as, aten.view_as,
    aten.channel_shuffle, aten.native_channel_shuffle}
# a parameter seen through these stays a weight (its dimensions permuted)
WEIGHT_VIEWS = {aten.t, aten.transpose, aten.permute, aten.detach,
                aten.alias}
# reduce (or normalise) along ``dim``: the atoms along it are tied
REDUCTIONS = {aten.mean, aten.sum, aten.amax, aten.amin, aten.max, aten.min,
              aten.var, aten.std, aten.var_mean, aten.std_mean,
              aten.logsumexp, aten.prod, aten.norm, aten.linalg_vector_norm,
              aten._softmax, aten._log_softmax, aten.softmax,
              aten.log_softmax, aten.cumsum, aten.argmax, aten.argmin}
# spatial windows: dims 2.. are mixed, channels (dim 1) kept
POOLS = {aten.max_pool1d, aten.max_pool2d, aten.max_pool3d,
         aten.max_pool2d_with_indices, aten.max_pool3d_with_indices,
         aten.avg_pool1d, aten.avg_pool2d, aten.avg_pool3d,
         aten._adaptive_avg_pool2d, aten._adaptive_avg_pool3d,
         aten.adaptive_avg_pool1d, aten.adaptive_max_pool1d,
         aten.adaptive_max_pool2d, aten.adaptive_max_pool3d,
         aten.upsample_nearest1d, aten.upsample_nearest2d,
         aten.upsample_nearest3d, aten.upsample_bilinear2d,
         aten.upsample_bicubic2d, aten.upsample_linear1d,
         aten._upsample_nearest_exact2d, aten._upsample_bilinear2d_aa,
         aten._upsample_bicubic2d_aa}
BATCH_NORMS = {aten.native_batch_norm, aten._native_batch_norm_legit,
               aten._native_batch_norm_legit_no_training,
               aten._native_batch_norm_legit_functional, aten.batch_norm}
MATMULS = {aten.mm, aten.addmm}
# elementwise ops ATen does not tag ``pointwise``
POINTWISE = {aten.hardswish, aten.hardswish_, aten.hardsigmoid,
             aten.hardsigmoid_, aten.mish, aten.mish_, aten.silu,
             aten.silu_, aten.elu, aten.elu_, aten.native_dropout,
             aten.prelu, aten._prelu_kernel, aten.softplus, aten.gelu_,
             aten.celu, aten.celu_, aten.selu, aten.selu_, aten.rrelu,
             aten.log_sigmoid, aten.softshrink, aten.hardshrink}


class Atoms:
    """Union-find over channel atoms; a root may carry why it is fixed."""

    def __init__(self):
        self.parent: List[int] = []
        self.fixed: Dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.parent)

    def new(self, count: int, fixed: str = '') -> torch.Tensor:
        start = len(self.parent)
        self.parent.extend(range(start, start + count))
        if fixed:
            for atom in range(start, start + count):
                self.fixed[atom] = fixed
        return torch.arange(start, start + count)

    def find(self, atom: int) -> int:
        parent = self.parent
        root = atom
        while parent[root] != root:
            root = parent[root]
        while parent[atom] != root:
            parent[atom], atom = root, parent[atom]
        return root

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if b < a:
            a, b = b, a  # the older atom stays the root
        self.parent[b] = a
        reason = self.fixed.pop(b, '')
        if reason and a not in self.fixed:
            self.fixed[a] = reason

    def tie(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """Tie ``a[i]`` to ``b[i]`` for every position (``-1``: none)."""
        a, b = torch.broadcast_tensors(a, b)
        same = [d for d in range(a.dim())
                if a.stride(d) == 0 and b.stride(d) == 0 and a.shape[d] > 1]
        for d in same:  # both expanded there: one entry says it all
            a, b = a.narrow(d, 0, 1), b.narrow(d, 0, 1)
        a, b = a.reshape(-1), b.reshape(-1)
        pick = (a >= 0) & (b >= 0) & (a != b)
        if not bool(pick.any()):
            return
        size = len(self.parent)
        keys = torch.unique(a[pick] * size + b[pick]).tolist()
        for key in keys:
            self.union(key // size, key % size)

    def fix(self, labels: torch.Tensor, reason: str) -> None:
        for atom in torch.unique(labels).tolist():
            if atom >= 0:
                self.fixed.setdefault(self.find(atom), reason)

    def roots(self) -> torch.Tensor:
        """Each atom's root (a tensor indexed by atom id)."""
        return torch.tensor([self.find(a) for a in range(len(self.parent))],
                            dtype=torch.long)


@dataclass
class CostTerm:
    """One conv's or linear layer's multiply-accumulates:
    ``per_pair * c_in * c_out``; each width is a constant (``int``) or the
    atoms of the channels it counts (a label vector)."""
    module: str
    per_pair: int  # kernel area x output positions (rows for a linear)
    c_in: object
    c_out: object


@dataclass
class MaskPoint:
    """Where a layer reads channels: the input of its conv/linear/layer-norm
    call, along ``dim``, labelled ``atoms``.

    ``direct``: that input is the owner module's first argument (a forward
    pre-hook can scale it); otherwise the call is intercepted inside the
    owner's forward."""
    owner: str
    weight: str  # the weight's parameter name
    kind: str  # 'conv', 'linear' or 'layer_norm'
    dim: int
    atoms: torch.Tensor
    direct: bool


@dataclass
class ChannelTrace:
    """What one traced forward found (module names relative to the model).

    ``producers``: (module, weight name, output atoms) in call order;
    ``param_dims``: parameter/buffer name -> {dim: atoms along it};
    ``groups``: grouped conv weight name -> groups."""
    atoms: Atoms
    producers: List[Tuple[str, str, torch.Tensor]] = field(
        default_factory=list)
    param_dims: Dict[str, Dict[int, torch.Tensor]] = field(
        default_factory=dict)
    groups: Dict[str, int] = field(default_factory=dict)
    costs: List[CostTerm] = field(default_factory=list)
    masks: List[MaskPoint] = field(default_factory=list)
    loose_params: Dict[str, torch.Tensor] = field(default_factory=dict)


def _normal_dims(dims, ndim: int) -> List[int]:
    if dims is None or (isinstance(dims, (list, tuple)) and not dims):
        return list(range(ndim))
    if isinstance(dims, int):
        dims = [dims]
    return sorted({d % ndim for d in dims}) if ndim else []


def _compact(labels: torch.Tensor, keep: Sequence[int] = ()) -> torch.Tensor:
    """``labels`` without its broadcast copies: every dim it is expanded
    along (stride 0) narrowed to one entry (a view; ``keep``: dims left
    as they are)."""
    for d in range(labels.dim()):
        if labels.stride(d) == 0 and labels.shape[d] > 1 and d not in keep:
            labels = labels.narrow(d, 0, 1)
    return labels


def _rows(labels: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """``labels`` as a matrix: one row per position of the other dims, the
    entries along ``dims`` in its columns."""
    dims = list(dims)
    moved = labels.movedim(dims, list(range(labels.dim() - len(dims),
                                            labels.dim())))
    width = 1
    for d in dims:
        width *= labels.shape[d]
    return moved.reshape(-1, width)


class _Recorder(TorchDispatchMode):

    def __init__(self, model: nn.Module, fixed_layers: Sequence[str]):
        super().__init__()
        self.trace = ChannelTrace(Atoms())
        self.atoms = self.trace.atoms
        self.labels: Dict[int, Tuple[torch.Tensor, object]] = {}
        self.weights: Dict[int, Tuple[str, Tuple[int, ...]]] = {}
        self.names: Dict[int, str] = {}
        for name, tensor in list(model.named_parameters()) + \
                list(model.named_buffers()):
            if id(tensor) not in self.names:
                self.names[id(tensor)] = name
                self.weights[id(tensor)] = (name, tuple(range(tensor.dim())))
        self.module_names = {id(m): n for n, m in model.named_modules()}
        self.modules = dict(model.named_modules())
        self.module_types = {n: type(m).__name__
                             for n, m in self.modules.items()}
        self.fixed_layers = set(fixed_layers)
        self.stack: List[Tuple[str, int]] = []  # (module, id of its input)

    # -- module stack ---------------------------------------------------
    def enter_module(self, module, args):
        name = self.module_names.get(id(module))
        if name is not None:
            first = args[0] if args else None
            self.stack.append((name, id(first)))

    def exit_module(self, module, args, output):
        if self.module_names.get(id(module)) is not None and self.stack:
            self.stack.pop()

    def where(self) -> str:
        if not self.stack or not self.stack[-1][0]:
            return 'the model'
        name = self.stack[-1][0]
        return f'{name!r} ({self.module_types[name]})'

    def _inside_fixed(self) -> Optional[str]:
        for name, _ in self.stack:
            if name in self.fixed_layers:
                return name
        return None

    # -- labels ---------------------------------------------------------
    def has(self, tensor) -> bool:
        return isinstance(tensor, torch.Tensor) and (
            id(tensor) in self.labels or id(tensor) in self.names)

    def get(self, tensor) -> Optional[torch.Tensor]:
        if not isinstance(tensor, torch.Tensor):
            return None
        entry = self.labels.get(id(tensor))
        if entry is not None and entry[0] is tensor:
            labels = entry[1]
            if callable(labels):  # a weight's view: atoms made on use
                labels = labels()
                self.labels[id(tensor)] = (tensor, labels)
            return labels
        name = self.names.get(id(tensor))
        if name is None:
            return None
        atoms = self.trace.loose_params.get(name)
        if atoms is None:  # a parameter used as data: one atom per element
            atoms = self.atoms.new(tensor.numel()).view(tensor.shape)
            self.trace.loose_params[name] = atoms
        return atoms

    def filled(self, tensor) -> torch.Tensor:
        labels = self.get(tensor)
        if labels is None:
            return torch.full(tuple(tensor.shape), -1, dtype=torch.long)
        return labels

    def put(self, tensor, labels) -> None:
        if isinstance(tensor, torch.Tensor) and labels is not None:
            self.labels[id(tensor)] = (tensor, labels)

    def column(self, labels: torch.Tensor, dim: int) -> torch.Tensor:
        """Tie each index along ``dim`` across all other positions (a layer
        reads that dimension as channels); returns the atoms per index."""
        dim = dim % labels.dim()
        size = labels.shape[dim]
        rows = _rows(_compact(labels), [dim])
        ref = rows.max(0).values
        self.atoms.tie(rows, ref)
        return ref.expand(size).clone()

    def tie_along(self, labels: torch.Tensor, dims: Sequence[int]) -> None:
        """Tie the atoms along ``dims`` at every position of the others."""
        labels = _compact(labels)
        dims = [d for d in dims if labels.shape[d] > 1]
        if not dims:
            return
        rows = _rows(labels, dims)
        self.atoms.tie(rows, rows.max(1, keepdim=True).values)

    def record(self, name: str, dim: int, atoms: torch.Tensor) -> None:
        dims = self.trace.param_dims.setdefault(name, {})
        if dim in dims:  # a weight used twice: both uses agree
            self.atoms.tie(dims[dim], atoms)
        else:
            dims[dim] = atoms

    # -- dispatch -------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        leaves = [a for a in tree_flatten((args, kwargs))[0]
                  if isinstance(a, torch.Tensor)]
        if not any(self.has(a) for a in leaves):
            return out
        packet = func.overloadpacket
        fixed = self._inside_fixed()
        try:
            if fixed is not None:
                self.opaque(leaves, out, f'inside fixed layer {fixed!r}')
            else:
                self.dispatch(func, packet, args, kwargs, out, leaves)
        except Exception as exc:  # an op used in a way no rule expects
            self.opaque(leaves, out,
                        f'{packet.__name__} in {self.where()} '
                        f'({type(exc).__name__})')
        return out

    def dispatch(self, func, packet, args, kwargs, out, leaves) -> None:
        if packet in SAME:
            self.put(out, self.get(args[0]))
        elif packet is aten.convolution:
            self.convolution(args, out)
        elif packet in MATMULS:
            self.matmul(packet, args, out, leaves)
        elif packet in BATCH_NORMS:
            self.batch_norm(args, out)
        elif packet is aten.native_layer_norm:
            self.layer_norm(args, out)
        elif packet is aten.native_group_norm:
            labels = self.filled(args[0])
            self.tie_along(labels, list(range(1, labels.dim())))
            self.put(out[0], labels)
        elif packet in REDUCTIONS:
            self.reduction(func, args, kwargs, out)
        elif packet in POOLS:
            self.pool(args, out)
        elif packet in REPLAYED:
            self.replay(func, packet, args, kwargs, out)
        elif torch.Tag.pointwise in func.tags or packet in POINTWISE:
            self.pointwise(leaves, out)
        else:
            self.opaque(leaves, out, f'{packet.__name__} in {self.where()}')

    # -- rules ------------------------------------------------------------
    def opaque(self, leaves, out, reason: str) -> None:
        """Keep the channels of every input and output whole."""
        inputs = [(a, self.get(a)) for a in leaves]
        inputs = [(a, l) for a, l in inputs if l is not None]
        for _, labels in inputs:
            self.atoms.fix(labels, reason)
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            same = [l for a, l in inputs if a.shape == tensor.shape]
            self.put(tensor, same[0] if same else self.atoms.new(
                tensor.numel(), reason).view(tensor.shape))

    def convolution(self, args, out) -> None:
        x, weight, bias = args[0], args[1], args[2]
        transposed, groups = args[6], args[8]
        origin = self.weights.get(id(weight))
        if transposed or origin is None or \
                origin[1] != tuple(range(weight.dim())):
            raise TypeError('a convolution without a parameter weight')
        name = origin[0]
        c_in, c_out = x.shape[1], weight.shape[0]
        out_atoms = self.atoms.new(c_out)
        in_atoms = self.column(self.filled(x), 1)
        self.record(name, 0, out_atoms)
        if groups == 1:
            self.record(name, 1, in_atoms)
            c_in_term: object = in_atoms
            self.mask_point(name, 'conv', 1, in_atoms, x)
        else:  # whole groups: a group's inputs and outputs go together
            per_in, per_out = c_in // groups, c_out // groups
            first = in_atoms.view(groups, per_in)[:, :1]
            self.atoms.tie(in_atoms.view(groups, per_in), first)
            self.atoms.tie(out_atoms.view(groups, per_out), first)
            self.trace.groups[name] = groups
            c_in_term = per_in
        if bias is not None and id(bias) in self.weights:
            self.record(self.weights[id(bias)][0], 0, out_atoms)
        shape = (1, c_out) + (1, ) * (out.dim() - 2)
        self.put(out, out_atoms.view(shape).expand(out.shape))
        owner = name.rsplit('.', 1)[0]
        self.trace.producers.append((owner, name, out_atoms))
        kernel = math.prod(weight.shape[2:])
        positions = math.prod(out.shape[2:]) * out.shape[0]
        self.trace.costs.append(CostTerm(owner, kernel * positions,
                                         c_in_term, out_atoms))

    def matmul(self, packet, args, out, leaves) -> None:
        bias = args[0] if packet is aten.addmm else None
        x, weight = args[-2:] if packet is aten.mm else args[1:3]
        origin = self.weights.get(id(weight))
        if origin is None or id(x) in self.weights or len(origin[1]) != 2:
            return self.opaque(leaves, out, f'{packet.__name__} of two '
                               f'activations in {self.where()}')
        name, (in_dim, out_dim) = origin[0], origin[1]
        out_atoms = self.atoms.new(weight.shape[1])
        in_atoms = self.column(self.filled(x), 1)
        self.record(name, out_dim, out_atoms)
        self.record(name, in_dim, in_atoms)
        if bias is not None and id(bias) in self.weights:
            self.record(self.weights[id(bias)][0], 0, out_atoms)
        self.put(out, out_atoms.view(1, -1).expand(out.shape))
        owner = name.rsplit('.', 1)[0]
        self.trace.producers.append((owner, name, out_atoms))
        self.trace.costs.append(CostTerm(owner, x.shape[0], in_atoms,
                                         out_atoms))
        self.mask_point(name, 'linear', -1, in_atoms, None)
        return None

    def mask_point(self, weight: str, kind: str, dim: int,
                   atoms: torch.Tensor, x) -> None:
        owner = weight.rsplit('.', 1)[0]
        inside = bool(self.stack) and self.stack[-1][0] == owner
        direct = inside and (self.stack[-1][1] == id(x) if x is not None
                             else isinstance(self.modules[owner], nn.Linear))
        self.trace.masks.append(MaskPoint(owner, weight, kind, dim, atoms,
                                          direct))

    def batch_norm(self, args, out) -> None:
        labels = self.filled(args[0])
        atoms = self.column(labels, 1)
        for tensor in args[1:]:
            if isinstance(tensor, torch.Tensor) and \
                    id(tensor) in self.weights:
                self.record(self.weights[id(tensor)][0], 0, atoms)
        self.put(out[0] if isinstance(out, (tuple, list)) else out, labels)

    def layer_norm(self, args, out) -> None:
        x, shape, weight = args[0], args[1], args[2]
        labels = self.filled(x)
        if len(shape) != 1:  # statistics over several dims: kept whole
            self.tie_along(labels, list(range(x.dim() - len(shape),
                                              x.dim())))
        elif weight is None or id(weight) not in self.weights:
            self.tie_along(labels, [x.dim() - 1])
        else:
            atoms = self.column(labels, -1)
            for tensor in args[2:4]:
                if isinstance(tensor, torch.Tensor) and \
                        id(tensor) in self.weights:
                    self.record(self.weights[id(tensor)][0], 0, atoms)
            self.mask_point(self.weights[id(weight)][0], 'layer_norm', -1,
                            atoms, None)
        self.put(out[0], labels)

    def reduction(self, func, args, kwargs, out) -> None:
        x = args[0]
        labels = self.filled(x)
        names = [a.name for a in func._schema.arguments]
        values = dict(zip(names, args), **kwargs)
        dims = _normal_dims(values.get('dim'), x.dim())
        keepdim = bool(values.get('keepdim', False))
        self.tie_along(labels, dims)
        outputs = [t for t in tree_flatten(out)[0]
                   if isinstance(t, torch.Tensor)]
        if outputs and outputs[0].shape == x.shape:  # softmax, cumsum
            self.put(outputs[0], labels)
            return
        for d in dims:
            labels = labels.narrow(d, 0, 1)
        if not keepdim and dims:
            labels = labels.squeeze(tuple(dims))
        for tensor in outputs[:1]:
            if tensor.is_floating_point() and labels.shape == tensor.shape:
                self.put(tensor, labels)

    def pool(self, args, out) -> None:
        labels = self.filled(args[0])
        spatial = list(range(2, labels.dim()))
        self.tie_along(labels, spatial)
        for d in spatial:
            labels = labels.narrow(d, 0, 1)
        first = out[0] if isinstance(out, (tuple, list)) else out
        self.put(first, labels.expand(first.shape))

    def pointwise(self, leaves, out) -> None:
        result = None
        for tensor in leaves:
            labels = self.get(tensor)
            if labels is None:
                continue
            labels = labels.expand(out.shape) if labels.dim() == out.dim() \
                else torch.broadcast_to(labels, out.shape)
            if result is None:
                result = labels
            else:
                self.atoms.tie(result, labels)
                if not bool((_compact(result) >= 0).all()):
                    result = torch.where(result >= 0, result, labels)
        self.put(out, result)

    def replay(self, func, packet, args, kwargs, out) -> None:
        origin = self.weights.get(id(args[0])) if args else None
        if origin is not None and packet in WEIGHT_VIEWS:
            self.weight_view(func, packet, args, kwargs, out, origin)
            return
        # the data (first argument: a tensor or cat's list) as labels;
        # index tensors and shapes stay as they are
        largs = [tree_map(lambda a: self.filled(a)
                          if isinstance(a, torch.Tensor) else a, args[0])
                 ] + list(args[1:])
        if packet is aten.constant_pad_nd:
            largs = largs[:2] + [-1]
        try:
            result = func(*largs, **kwargs)
        except RuntimeError:  # a view of expanded labels: copy them first
            largs = tree_map(lambda a: a.contiguous()
                             if isinstance(a, torch.Tensor) else a, largs)
            result = func(*largs, **kwargs)
        for tensor, labels in zip(tree_flatten(out)[0],
                                  tree_flatten(result)[0]):
            self.put(tensor, labels)
        source = largs[0]
        if packet in RESHAPES:
            self.reshape_ties(source, result)
        elif packet in SLICES:
            self.slice_ties(func, source, args, kwargs)
        elif packet in SPLITS:
            self.split_ties(source, args, kwargs, result)
        elif packet in WHOLE_DIM:
            dims = args[2] if packet is aten.roll else \
                (args[1] if len(args) > 1 else 0)
            self.tie_along(source, _normal_dims(dims, source.dim()))

    def weight_view(self, func, packet, args, kwargs, out, origin) -> None:
        """``W.t()`` and friends stay weights (their dims mapped back)."""
        name, dims = origin
        if packet is aten.t or packet is aten.transpose:
            a, b = (0, 1) if packet is aten.t else \
                (args[1] % len(dims), args[2] % len(dims))
            dims = list(dims)
            dims[a], dims[b] = dims[b], dims[a]
        elif packet is aten.permute:
            dims = [dims[d % len(dims)] for d in args[1]]
        self.weights[id(out)] = (name, tuple(dims))
        source = args[0]
        self.labels[id(out)] = (out, lambda: func(
            *([self.filled(source)] + list(args[1:])), **kwargs))

    def reshape_ties(self, source: torch.Tensor, result: torch.Tensor):
        """A dim split into (g1, ..., gk, c): the leading factors are taken
        as baked into the model (groups, heads), the last as derived from
        the width, so index ``c`` is kept or dropped in every group."""
        before, after = list(source.shape), list(result.shape)
        i = j = 0
        while i < len(before) and j < len(after):
            i2, j2 = i + 1, j + 1
            a, b = before[i], after[j]
            while a != b:
                if a < b:
                    a *= before[i2]
                    i2 += 1
                else:
                    b *= after[j2]
                    j2 += 1
            while i2 < len(before) and before[i2] == 1 and \
                    (j2 >= len(after) or after[j2] != 1):
                i2 += 1
            split = [d for d in range(j, j2) if after[d] > 1]
            if len(split) >= 2 and len([d for d in range(i, i2)
                                        if before[d] > 1]) == 1:
                rows = _rows(result, split).view(
                    -1, math.prod(after[d] for d in split[:-1]),
                    after[split[-1]])
                self.atoms.tie(rows, rows[:, :1])
            elif len(split) >= 2:  # an unusual regrouping: keep it whole
                self.tie_along(source, [d for d in range(i, i2)])
            i, j = i2, j2

    def slice_ties(self, func, source, args, kwargs) -> None:
        """An equal piece (``chunk``) is kept like the first piece; a slice
        of any other size is baked in: its dim is kept whole."""
        names = [a.name for a in func._schema.arguments]
        values = dict(zip(names, args), **kwargs)
        dim = values.get('dim', 0) % source.dim()
        size = source.shape[dim]
        if func.overloadpacket is aten.narrow:
            start, end, step = values['start'], values['start'] + \
                values['length'], 1
        else:
            start, end = values.get('start'), values.get('end')
            step = values.get('step', 1) or 1
            start, end, _ = slice(start, end).indices(size)
        length = len(range(start, end, step))
        if step == 1 and length and size % length == 0 and \
                start % length == 0:
            piece = source.narrow(dim, start, length)
            self.atoms.tie(piece, source.narrow(dim, 0, length))
        elif step > 1 and start < step and size % step == 0 and \
                length == size // step:
            index = torch.arange(0, size, step)
            self.atoms.tie(source.index_select(dim, index + start),
                           source.index_select(dim, index))
        elif length != size:
            self.tie_along(source, [dim])

    def split_ties(self, source, args, kwargs, result) -> None:
        dim = (args[2] if len(args) > 2 else kwargs.get('dim', 0)) % \
            source.dim()
        pieces = [p for p in result if isinstance(p, torch.Tensor)]
        if len({p.shape[dim] for p in pieces}) == 1:
            for piece in pieces[1:]:
                self.atoms.tie(piece, pieces[0])
        else:
            self.tie_along(source, [dim])


class _Root(nn.Module):
    """Runs ``model`` as a classifier: features, then the head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        model = self.model
        if hasattr(model, 'extract_feat') and hasattr(model, 'head'):
            return model.head(model.extract_feat(x))
        return model(x)


def trace_channels(model: nn.Module, input_shape: Sequence[int],
                   fixed_layers: Sequence[str] = ()) -> ChannelTrace:
    """Run ``model`` once on a zero input of ``input_shape`` (N, C, ...)
    (a classifier's features then head, else ``model(x)``) and return
    which channels go together (see the module docstring)."""
    recorder = _Recorder(model, fixed_layers)
    x = torch.zeros(*input_shape)
    atoms = recorder.atoms.new(x.shape[1], 'model input')
    recorder.put(x, atoms.view((1, -1) + (1, ) * (x.dim() - 2))
                 .expand(x.shape))
    hooks = [nn.modules.module.register_module_forward_pre_hook(
                 recorder.enter_module),
             nn.modules.module.register_module_forward_hook(
                 recorder.exit_module, always_call=True)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), recorder:
            output = _Root(model)(x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    for tensor in tree_flatten(output)[0]:
        labels = recorder.get(tensor)
        if labels is not None:
            recorder.atoms.fix(labels, 'model output')
    _settle_loose_params(recorder.trace)
    return recorder.trace


def _settle_loose_params(trace: ChannelTrace) -> None:
    """A parameter used as data (a layer scale, a position embedding, a
    class token) is cut along the one dim its channels vary in; one whose
    channels vary along several dims keeps them whole."""
    roots = trace.atoms.roots()
    for name, atoms in trace.loose_params.items():
        classes = roots[atoms]
        varying = [d for d in range(classes.dim())
                   if bool((classes != classes.narrow(d, 0, 1)).any())]
        if len(varying) > 1:
            trace.atoms.fix(atoms, f'parameter {name!r} mixes channels '
                            'along several dims')
        elif varying:
            d = varying[0]
            index = [0] * atoms.dim()
            index[d] = slice(None)
            trace.param_dims.setdefault(name, {}).setdefault(
                d, atoms[tuple(index)])
