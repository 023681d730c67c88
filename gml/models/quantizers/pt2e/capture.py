"""Capturing a model as a training graph with torch.export."""
import contextlib
import copy
import importlib
import operator
import os
import traceback
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ....errors import ConfigError

MAX_BATCH = 65536
# Python callables dynamo records for aten ops called outside torch.nn
# modules (what torchao's pattern matching looks for)
_FUNCTIONAL = {
    'add.Tensor': operator.add, 'add_.Tensor': operator.add,
    'mul.Tensor': operator.mul, 'mul_.Tensor': operator.mul,
    'relu.default': F.relu, 'relu_.default': F.relu,
    'hardtanh.default': F.hardtanh, 'hardtanh_.default': F.hardtanh,
    'conv2d.default': F.conv2d, 'linear.default': F.linear,
    'cat.default': torch.cat, 'max_pool2d.default': F.max_pool2d,
    'adaptive_avg_pool2d.default': F.adaptive_avg_pool2d,
}


def node_module(node) -> str:
    """Qualified name of the innermost module ``node`` was traced in."""
    stack = node.meta.get('nn_module_stack')
    if not stack:
        return ''
    return list(stack.values())[-1][0]


def capture(model: nn.Module, input_shape: Sequence[int]):
    """A copy of ``model`` as a training-mode GraphModule whose batch size
    is free (height, width and channels are fixed by ``input_shape``).

    The copy matters: the exported module shares tensors with its source.
    A model torch.export cannot capture stops with a ConfigError naming
    the module and the line that block it.
    """
    model = copy.deepcopy(model).train()
    example = torch.randn(2, *input_shape[1:])  # BN trains on batch >= 2
    batch = torch.export.Dim('batch', min=1, max=MAX_BATCH)
    try:
        graph = torch.export.export(model, (example, ),
                                    dynamic_shapes=({0: batch}, )).module()
    except Exception as exc:  # noqa: BLE001 -- any capture failure
        raise ConfigError(_capture_failure(exc, model)) from None
    scalar_operands_as_scalar_ops(graph)
    tag_module_calls(graph)
    return graph


def _scalar_overloads():
    aten = torch.ops.aten
    return {aten.add.Tensor: (aten.add.Scalar, True),
            aten.mul.Tensor: (aten.mul.Scalar, True),
            aten.sub.Tensor: (aten.sub.Scalar, False),
            aten.div.Tensor: (aten.div.Scalar, False)}


def scalar_operands_as_scalar_ops(graph) -> int:
    """Rewrite ``tensor + 3`` (and ``*``, ``-``, ``/`` by a number) from
    the Tensor overload torch.export records to the Scalar one; return how
    many.

    The backends' quantizers read an ``add``/``mul`` after a conv as a
    binary fusion of two tensors and fail with a bare AssertionError on a
    number (hard-sigmoid's ``x + 3`` in MobileNetV3's squeeze-excite, the
    branch scaling of MobileOne). As a Scalar op it is what it is: an
    elementwise op on one tensor, which the quantizer leaves in float.
    """
    from torch.fx import Node
    overloads = _scalar_overloads()
    rewritten = 0
    for node in graph.graph.nodes:
        target = overloads.get(node.target)
        if node.op != 'call_function' or target is None or \
                len(node.args) != 2 or node.kwargs:
            continue
        scalar_op, commutative = target
        left, right = node.args
        if isinstance(left, Node) and isinstance(right, (int, float)):
            node.target = scalar_op
        elif commutative and isinstance(right, Node) and \
                isinstance(left, (int, float)):
            node.args, node.target = (right, left), scalar_op
        else:
            continue
        # partitions are found by the Python function recorded at trace
        # time (operator.add): forget it, the node is no binary op any more
        node.meta.pop('torch_fn', None)
        node.meta.pop('source_fn_stack', None)
        rewritten += 1
    if rewritten:
        graph.recompile()
    return rewritten


def _capture_failure(exc: BaseException, model: nn.Module) -> str:
    names = {id(m): name for name, m in model.named_modules()}
    torch_dir = os.path.dirname(torch.__file__)
    where = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get('self')
        if id(owner) in names and \
                not frame.f_code.co_filename.startswith(torch_dir):
            where = (names[id(owner)] or '(the model)', type(owner).__name__,
                     frame.f_code.co_filename, line)
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else \
        type(exc).__name__
    message = f'algorithm.model: torch.export cannot capture the model for ' \
              f'quantization: {reason}'
    if where is not None:
        name, kind, filename, line = where
        import linecache
        code = linecache.getline(filename, line).strip()
        message += (f'\n  blocked in module {name!r} ({kind}) at '
                    f'{filename}:{line}: {code}')
    return message + ('\n  int8 QAT needs a model without data-dependent '
                      'Python control flow or conversions to Python/numpy '
                      'values in its forward')


@contextlib.contextmanager
def pass_failures(stage: str):
    """One line for a failure inside torchao's passes over the captured
    graph (``annotate``, ``convert``): the node it was working on, its op
    and the module it comes from."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 -- torchao asserts, raises...
        raise ConfigError(_pass_failure(stage, exc)) from exc


def _pass_failure(stage: str, exc: BaseException) -> str:
    node = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        nodes = {k: v for k, v in frame.f_locals.items()
                 if isinstance(v, torch.fx.Node) and v.op == 'call_function'}
        if nodes:  # the innermost frame's; its `node` if it has one
            node = nodes.get('node') or list(nodes.values())[-1]
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else \
        'no message'
    message = f'algorithm.quantizer: the int8 {stage} step failed ' \
        f'({type(exc).__name__}: {reason})'
    if node is not None:
        op = getattr(node.target, '__name__', str(node.target))
        message += f' at {op} in module {node_module(node) or "(the model)"!r}'
    return message + '; keep that module out of the quantized region ' \
        '(quantizer.input_layer / output_layer)'


def _module_class(path):
    if isinstance(path, type):
        return path
    module, _, name = str(path).rpartition('.')
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def tag_module_calls(graph) -> int:
    """Give every node a ``source_fn_stack`` with one entry per module call.

    Non-strict torch.export leaves it empty, and torchao then groups nodes
    by module name: a module called twice (mmpretrain's BasicBlock calls
    one ``self.relu`` after bn1 and after the residual add) becomes one
    partition with two outputs, which the x86 quantizer rejects. Returns
    the number of nodes tagged.
    """
    tagged, previous, calls = 0, None, {}
    for node in graph.graph.nodes:
        if node.op != 'call_function' or node.meta.get('source_fn_stack'):
            previous = None if node.op == 'call_function' else previous
            continue
        stack = node.meta.get('nn_module_stack')
        if not stack:
            previous = None
            continue
        name, cls = list(stack.values())[-1]
        cls = _module_class(cls)
        if cls is None or not cls.__module__.startswith('torch.nn.modules'):
            previous = None  # a functional call inside a custom module
            key = getattr(node.target, '__name__', '')
            if key in _FUNCTIONAL:
                node.meta['source_fn_stack'] = [(node.name, _FUNCTIONAL[key])]
                tagged += 1
            continue
        if name != previous:
            calls[name] = calls.get(name, -1) + 1
        previous = name
        node.meta['source_fn_stack'] = [(f'{name}#{calls[name]}', cls)]
        tagged += 1
    return tagged
