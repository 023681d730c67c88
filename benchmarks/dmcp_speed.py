"""What DMCP buys and costs: exported-model latency and the arch step.

Usage: python benchmarks/dmcp_speed.py [--repeats 30] [--threads 1]

1. Inference latency of a model pruned to 50% of the FLOPs (the
   expected-sampling architecture of uniform keep probabilities brought to
   the target, shrunk to real smaller tensors as tools/export_pruned.py
   does) vs the unpruned model, on the CPU, side by side in one process:
   ResNet-18 CIFAR (32x32, batch 32) and ResNet-50 ImageNet (224x224,
   batch 1), both from the shipped DMCP configs. Target ratio <= 0.65.
2. The architecture step: a DMCP training step with the architecture step
   (iteration >= arch_start_training) vs the same step without it, and the
   arch step alone vs a plain forward + backward of the full model, on the
   digits config (batch 64, 16x16).
3. The channel dependency analysis (one traced forward) of mmpretrain's
   ResNet-50 at 224x224, and the masked training step (a sampled subnet's
   forward + backward, every layer reading masked inputs) vs the plain
   model's, for mmpretrain's ResNet-50, ResNeXt-50 32x4d (grouped convs)
   DenseNet-121 (concatenation) and ConvNeXt-T (layer norms over
   channels) at 32x32, batch 16. Targets: <= 10 s
   and <= 1.3x.

Prints one JSON line.
"""
import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _timing import interleaved_medians  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
CONFIGS = {
    'ResNet-18 CIFAR-10': ('configs/pruning/dmcp/dmcp_resnet18_cifar10.py',
                           32),
    'ResNet-50 ImageNet': ('configs/pruning/dmcp/dmcp_resnet50_imagenet.py',
                           1),
}
DIGITS = 'configs/pruning/dmcp/dmcp_resnet_digits.py'


def build(config, **algorithm_cfg):
    from gml.registry import build_algorithm
    from gml.utils.config import load_config
    cfg = load_config(os.path.join(REPO, config))
    cfg.algorithm.algorithm_cfg.update(algorithm_cfg)
    return build_algorithm(cfg.algorithm, default_model=cfg.get('model'))


def half_flops_model(algorithm):
    """The 50% architecture of uniform keep probabilities, shrunk."""
    mutator = algorithm.mutator
    low, high = -10.0, 10.0  # the uniform alpha putting E[FLOPs] at target
    for _ in range(40):
        middle = (low + high) / 2
        for name in mutator.groups:
            mutator.alpha(name).fill_(middle)
        if mutator.expected_flops().item() > algorithm.target_flops:
            high = middle
        else:
            low = middle
    arch = algorithm.final_archs(num=0)['expected']
    return algorithm.pruned_model(arch['subnet']), arch['mflops']


def latency(name, repeats):
    import torch
    config, batch = CONFIGS[name]
    algorithm = build(config)
    full = algorithm.pruned_model()
    pruned, mflops = half_flops_model(algorithm)
    shape = algorithm.mutator.input_shape
    x = torch.randn(batch, *shape[1:])
    full.eval(), pruned.eval()

    def infer(model):
        def run():
            with torch.no_grad():
                model(x, mode='tensor')
        return run

    med = interleaved_medians({'full': infer(full), 'pruned': infer(pruned)},
                              repeats)
    return dict(model=name, batch=batch, input=list(shape[1:]),
                full_mflops=round(algorithm.max_flops, 2),
                pruned_mflops=round(mflops, 2),
                flops_ratio=round(mflops / algorithm.max_flops, 3),
                median_ms=med, latency_ratio=round(med['pruned'] /
                                                   med['full'], 3))


def arch_step_overhead(repeats):
    import torch
    from mmengine.optim import OptimWrapper
    from mmpretrain.structures import DataSample
    algorithm = build(DIGITS, arch_start_training=10 ** 9).train()
    data = dict(inputs=[torch.randint(0, 255, (3, 16, 16)).float()
                        for _ in range(64)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(64)])
    optim = OptimWrapper(torch.optim.SGD(algorithm.parameters(), lr=0.01,
                                         momentum=0.9))
    processed = algorithm.data_preprocessor(data, True)
    inputs, samples = processed['inputs'], processed['data_samples']

    def step(with_arch):
        def run():
            algorithm.arch_start = 0 if with_arch else 10 ** 9
            algorithm.train_step(data, optim)
        return run

    def plain():
        loss, _ = algorithm.parse_losses(
            algorithm.model(inputs, samples, mode='loss'))
        loss.backward()
        algorithm.zero_grad(set_to_none=True)

    med = interleaved_medians({
        'step_without_arch': step(False), 'step_with_arch': step(True),
        'arch_step': lambda: algorithm.arch_step(inputs, samples),
        'plain_forward_backward': plain}, repeats)
    return dict(config=DIGITS, batch=64, median_ms=med,
                step_ratio=round(med['step_with_arch'] /
                                 med['step_without_arch'], 3),
                arch_vs_plain=round(med['arch_step'] /
                                    med['plain_forward_backward'], 3))


MMPRETRAIN = {'ResNet-50': 'resnet50_8xb32_in1k',
              'ResNeXt-50 32x4d': 'resnext50-32x4d_8xb32_in1k',
              'DenseNet-121': 'densenet121_3rdparty_in1k',
              'ConvNeXt-T': 'convnext-tiny_32xb128_in1k'}


def trace_seconds(repeats):
    import time

    from mmpretrain import get_model

    from gml.models.pruning import trace_channel_graph
    model = get_model(MMPRETRAIN['ResNet-50'], pretrained=False)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        graph = trace_channel_graph(model, (1, 3, 224, 224))
        times.append(time.perf_counter() - start)
    return dict(model='ResNet-50', input=[3, 224, 224],
                units=len(graph.units), prunable=len(graph.prunable()),
                median_s=round(sorted(times)[len(times) // 2], 3))


def masked_step_overhead(name, repeats):
    import copy

    import torch
    from mmpretrain import get_model

    from gml.mutators import DMCPMutator
    model = get_model(MMPRETRAIN[name], pretrained=False,
                      head=dict(num_classes=10)).train()
    plain = copy.deepcopy(model)
    mutator = DMCPMutator(input_shape=(1, 3, 32, 32), seed=0)
    mutator.prepare(model)
    mutator.set_subnet(mutator.sample('random'))
    x = torch.randn(16, 3, 32, 32)

    def step(net):
        def run():
            net.head(net.extract_feat(x)).square().mean().backward()
            net.zero_grad(set_to_none=True)
        return run

    med = interleaved_medians({'plain': step(plain), 'masked': step(model)},
                              repeats)
    return dict(model=name, batch=16, input=[3, 32, 32], median_ms=med,
                ratio=round(med['masked'] / med['plain'], 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads (1 keeps ratios stable on a '
                        'shared machine)')
    args = parser.parse_args()
    import torch
    from mmengine.registry import init_default_scope
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        results = dict(latency=[latency(name, args.repeats)
                                for name in CONFIGS],
                       arch_step=arch_step_overhead(args.repeats),
                       trace=trace_seconds(5),
                       masked_step=[masked_step_overhead(name, args.repeats)
                                    for name in MMPRETRAIN])
    print(json.dumps(dict(benchmark='dmcp_speed', repeats=args.repeats,
                          threads=args.threads, **results,
                          machine=machine())))


if __name__ == '__main__':
    main()
