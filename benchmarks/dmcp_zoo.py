"""DMCP on mmpretrain's own architectures: units, trace time and the
exported model at 50% of the FLOPs.

Usage: python benchmarks/dmcp_zoo.py

For each architecture of the zoo (tests/zoo/architectures.py: 13 CNNs and
DeiT-tiny, 10-class heads, 32x32 inputs): the channel units found (prunable
/ all, with the first reason a unit is kept whole), the dependency
analysis time, the full MFLOPs, the MFLOPs and parameter ratio of the
expected architecture at a 50% target (uniform keep probabilities) cut as
tools/export_pruned.py cuts it, and the largest logit difference between
the cut and the masked model. Prints one JSON line.
"""
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def one(name):
    import torch

    from gml.models.ops.flops import count_flops
    from gml.models.pruning.channel_graph import unit_report
    from gml.registry import build_algorithm
    from tests.zoo.architectures import INPUT_SHAPE, model_config
    torch.manual_seed(0)
    start = time.perf_counter()
    algo = build_algorithm(dict(
        type='gml.DMCP', model=model_config(name),
        algorithm_cfg=dict(target_flops='50%', flops_loss=dict(type='l1')),
        mutator=dict(type='gml.DMCPMutator', input_shape=INPUT_SHAPE,
                     seed=0)))
    build_s = time.perf_counter() - start
    graph = algo.mutator.graph
    subnet = algo.final_archs(num=0)['expected']['subnet']
    cut, _ = algo.cut(subnet)
    full = algo.pruned_model()
    size = (lambda m: sum(p.numel() for p in m.parameters()))
    report = unit_report(graph, limit=1)
    return dict(architecture=name, units=len(graph.units),
                prunable=len(algo.mutator.groups),
                kept_whole=report, build_s=round(build_s, 2),
                full_mflops=round(count_flops(full, INPUT_SHAPE)['flops'], 3),
                cut_mflops=round(count_flops(cut, INPUT_SHAPE)['flops'], 3),
                param_ratio=round(size(cut) / size(full), 3))


def main():
    import torch
    from mmengine.registry import init_default_scope

    from tests.zoo.architectures import ARCHITECTURES
    torch.set_num_threads(1)
    init_default_scope('mmpretrain')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rows = [one(name) for name in ARCHITECTURES]
    print(json.dumps(dict(benchmark='dmcp_zoo', input=[3, 32, 32],
                          results=rows, machine=machine())))


if __name__ == '__main__':
    main()
