"""Keeping each BatchNorm's own momentum and eps through pt2e.

torchao rebuilds batch_norm calls from patterns traced with momentum 0.1
and eps 1e-5: in ``prepare_qat_pt2e``'s conv-BN fusion, in every
train/eval switch of the prepared graph and in ``convert_pt2e``'s folding.
A BN with eps 1e-3 (MobileNetV3, EfficientNet) would silently change.
"""
import types
from typing import Dict, Tuple

import torch
import torch.nn as nn

DEFAULT_EPS = 1e-5
Hyper = Dict[str, Tuple[float, float]]


def bn_hyper_parameters(model: nn.Module) -> Hyper:
    """``{'<bn>.running_var': (momentum, eps)}`` of the eager model."""
    return {f'{name}.running_var': (m.momentum, m.eps)
            for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.track_running_stats}


def _variance_name(node):
    return node.target if getattr(node, 'op', None) == 'get_attr' else None


def restore_bn(graph, hyper: Hyper) -> int:
    """Write the models' own momentum/eps back into ``graph`` (also in the
    fused QAT scaling ``sqrt(running_var + eps)``); returns the number of
    nodes changed."""
    changed = 0
    for node in graph.graph.nodes:
        if node.op != 'call_function':
            continue
        if node.target == torch.ops.aten.batch_norm.default:
            name = _variance_name(node.args[4])
            if name in hyper:
                momentum, eps = hyper[name]
                args = list(node.args)
                if momentum is not None:
                    args[6] = momentum
                args[7] = eps
                if tuple(args) != node.args:
                    node.args = tuple(args)
                    changed += 1
        elif node.target == torch.ops.aten.add.Tensor:
            name = _variance_name(node.args[0])
            if name in hyper and isinstance(node.args[1], float) and \
                    node.args[1] != hyper[name][1]:
                node.args = (node.args[0], hyper[name][1])
                changed += 1
    if changed:
        graph.recompile()
    return changed


def keep_bn_on_switch(graph, hyper: Hyper) -> None:
    """Make the prepared graph's ``train()``/``eval()`` (which torchao
    rewrites) restore the BN hyper-parameters after each switch."""
    from .speedups import fast_passes
    switch = graph.train

    def train(self, mode=True):
        with fast_passes():
            switch(mode)
        restore_bn(self, hyper)
        return self

    graph.train = types.MethodType(train, graph)
    graph.eval = types.MethodType(lambda self: self.train(False), graph)


def fold_eps_into_variance(graph, hyper: Hyper) -> int:
    """Before ``convert_pt2e`` (which folds with eps 1e-5 whatever the
    graph says): in eval mode eps only appears as ``running_var + eps``,
    so move ``eps - 1e-5`` into ``running_var``; the fold is then exact.
    Changes ``graph``'s buffers: use it on a copy."""
    moved = {}
    for name, (momentum, eps) in hyper.items():
        if eps == DEFAULT_EPS:
            continue
        with torch.no_grad():
            graph.get_buffer(name).add_(eps - DEFAULT_EPS)
        moved[name] = (momentum, DEFAULT_EPS)
    if moved:
        restore_bn(graph, moved)
    return len(moved)
