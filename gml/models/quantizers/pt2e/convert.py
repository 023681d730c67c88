"""From the trained fake-quantized graph to a real int8 graph."""
import copy

import torch

from .batchnorm import fold_eps_into_variance, restore_bn
from .capture import pass_failures
from .speedups import fast_passes


def drop_unused_tensors(graph) -> int:
    """Delete parameters and buffers no node reads any more.

    ``convert_pt2e`` folds BN into the convolutions and stores int8 copies
    of the weights, but leaves the fp32 originals registered; saved along,
    they would make the int8 file larger than the fp32 one.
    """
    graph.graph.eliminate_dead_code()
    used = {n.target for n in graph.graph.nodes if n.op == 'get_attr'}
    names = [k for k, _ in graph.named_parameters()] + \
        [k for k, _ in graph.named_buffers()]
    removed = 0
    for name in names:
        if name in used:
            continue
        prefix, _, leaf = name.rpartition('.')
        owner = graph.get_submodule(prefix) if prefix else graph
        owner._parameters.pop(leaf, None)
        owner._buffers.pop(leaf, None)
        removed += 1
    graph.delete_all_unused_submodules()
    graph.recompile()
    return removed


def convert_to_int8(prepared, bn_hyper):
    """The int8 GraphModule of a prepared (trained) graph, which is left
    untouched. Weights become int8 constants with per-channel scales,
    BN is folded into the convolutions, activations are quantized at the
    points the backend annotated."""
    from torchao.quantization.pt2e import (allow_exported_model_train_eval,
                                           move_exported_model_to_eval)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
    graph = copy.deepcopy(prepared)
    with fast_passes(), pass_failures('conversion'):
        move_exported_model_to_eval(graph)
        restore_bn(graph, bn_hyper)
        fold_eps_into_variance(graph, bn_hyper)
        with torch.no_grad():
            int8 = convert_pt2e(graph)
    drop_unused_tensors(int8)
    allow_exported_model_train_eval(int8)  # convert makes them raise again
    return int8
