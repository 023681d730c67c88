"""Costs of supernet training: slice ops at full size, and the sandwich step.

Usage: python benchmarks/nas_overhead.py [--device cpu|cuda] [--repeats 20]

1. Slice-op overhead: a forward + backward of a slice backbone at its max
   subnet vs the plain torch module ``to_static()`` exports for that same
   subnet (identical arithmetic; target ratio <= 1.10), for the ResNet-18
   supernet of the CIFAR-10 config and the AttentiveNAS MobileNetV3Slice.
2. A BigNAS ``sandwich4`` training step vs a plain training step of the
   max subnet (the same model fixed at max), on one batch.

Timings are interleaved in one process; prints one JSON line.
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
CIFAR = 'configs/nas/bignas/bignas_resnet18_cifar10.py'


def _train_pass(net, x):
    def step():
        out = net(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        out.float().mean().backward()
        net.zero_grad(set_to_none=True)
    return step


def slice_overhead(name, backbone, shape, device, repeats):
    """Median ms of the slice backbone at max and of its static export."""
    import torch
    backbone.set_subnet(backbone.max_subnet())
    static = backbone.to_static()
    backbone.to(device).train(), static.to(device).train()
    x = torch.randn(shape, device=device)
    med = interleaved_medians({'slice': _train_pass(backbone, x),
                               'static': _train_pass(static, x)},
                              repeats, device)
    return dict(name=name, input=list(shape), median_ms=med,
                ratio=round(med['slice'] / med['static'], 3))


def sandwich_overhead(config, batch, size, device, repeats):
    """Median ms of a BigNAS step and of a plain step of the max subnet."""
    import torch
    from mmengine.optim import OptimWrapper
    from mmpretrain.structures import DataSample

    from gml.registry import build_algorithm
    from gml.utils.config import load_config
    cfg = load_config(os.path.join(REPO, config))
    algorithm = build_algorithm(cfg.algorithm).to(device).train()
    model = algorithm.model
    data = dict(inputs=[torch.randint(0, 255, (3, size, size)).float()
                        for _ in range(batch)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(batch)])
    optim = OptimWrapper(torch.optim.SGD(algorithm.parameters(), lr=0.01,
                                         momentum=0.9))

    def plain_step():
        model.set_subnet(algorithm.mutator.sample('max'))
        processed = algorithm.data_preprocessor(data, True)
        losses = model(processed['inputs'], processed['data_samples'],
                       mode='loss')
        loss, _ = model.parse_losses(losses)
        optim.update_params(loss)

    med = interleaved_medians(
        {'max_step': plain_step,
         'sandwich4_step': lambda: algorithm.train_step(data, optim)},
        repeats, device)
    return dict(config=config, batch=batch, image_size=size, median_ms=med,
                ratio=round(med['sandwich4_step'] / med['max_step'], 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads (1 keeps ratios stable on a '
                        'shared machine)')
    parser.add_argument('--resnet-batch', type=int, default=None,
                        help='default 8 on CPU, 128 on cuda (32x32)')
    parser.add_argument('--mbv3-batch', type=int, default=None,
                        help='default 2 on CPU, 64 on cuda')
    parser.add_argument('--mbv3-size', type=int, default=None,
                        help='default 128 on CPU, 224 on cuda')
    parser.add_argument('--config', default=None, help='the BigNAS config '
                        'timed (default: digits on CPU, CIFAR-10 on cuda)')
    parser.add_argument('--batch', type=int, default=None,
                        help='BigNAS batch (64 on CPU, 128 on cuda)')
    args = parser.parse_args()
    cuda = args.device.startswith('cuda')

    import torch
    from mmengine.registry import init_default_scope

    from gml.models.backbones import MobileNetV3Slice
    from gml.registry import MODELS
    from gml.utils.config import load_config
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    resnet_batch = args.resnet_batch or (128 if cuda else 8)
    mbv3_batch = args.mbv3_batch or (64 if cuda else 2)
    mbv3_size = args.mbv3_size or (224 if cuda else 128)
    config = args.config or (CIFAR if cuda else
                             'configs/nas/bignas/bignas_resnet_digits.py')
    size = 32 if 'cifar' in config else 16
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        resnet = MODELS.build(dict(load_config(os.path.join(REPO, CIFAR))
                                   .algorithm.model.backbone))
        results = dict(
            slice_overhead=[
                slice_overhead('ResNetSlice-18 (CIFAR)', resnet,
                               (resnet_batch, 3, 32, 32), args.device,
                               args.repeats),
                slice_overhead('MobileNetV3Slice (AttentiveNAS)',
                               MobileNetV3Slice(),
                               (mbv3_batch, 3, mbv3_size, mbv3_size),
                               args.device, args.repeats)],
            sandwich=sandwich_overhead(config, args.batch or
                                       (128 if cuda else 64), size,
                                       args.device, args.repeats))
    print(json.dumps(dict(benchmark='nas_overhead', device=args.device,
                          repeats=args.repeats, **results,
                          machine=machine())))


if __name__ == '__main__':
    main()
