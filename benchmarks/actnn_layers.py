"""ActNN's layer API on a small net: bytes kept for backward and gradient
error, per bits.

Usage: python benchmarks/actnn_layers.py [--batches 5]

The net: QConv2d(3, 16) - QBatchNorm2d - QReLU - QMaxPool2d(2) -
QConv2d(16, 16) - QBatchNorm2d - QReLU - Flatten - QLinear(1024, 10), as
built from the README's layers (and, the same, converted by QModule), on
8 x 3 x 16 x 16 inputs. For 2, 4 and 8 bits (level L2 with the bits set,
as the README's FAQ does): raw / packed bytes of one training step (the
controller's accounting) and the largest relative gradient error
|g - g_fp32| / |g_fp32| over parameters and input, over --batches
batches of a cross-entropy step. Prints one JSON line.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import gml.actnn as actnn  # noqa: E402


def plain_net():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
        nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
        nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def step(net, x, y, seed):
    net.zero_grad()
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)
    nn.functional.cross_entropy(net(x), y).backward()
    return [p.grad.clone() for p in net.parameters()] + [x.grad]


def measure(bits, batches):
    actnn.set_optimization_level('L2')
    actnn.config.activation_compression_bits = [bits]
    torch.manual_seed(0)
    plain = plain_net()
    net = actnn.QModule(plain_net())
    net.load_state_dict(plain.state_dict())
    worst, ratio = 0.0, None
    for batch in range(batches):
        torch.manual_seed(100 + batch)
        x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8, ))
        for a, b in zip(step(net, x, y, batch), step(plain, x, y, batch)):
            worst = max(worst, float((a - b).norm() / b.norm()))
        if ratio is None:
            stats = net.controller.stats
            ratio = stats['raw_bytes'] / stats['packed_bytes']
    return dict(ratio=round(ratio, 3), grad_error=round(worst, 4))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batches', type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    result = {f'bits_{b}': measure(b, args.batches) for b in (2, 4, 8)}
    print(json.dumps(dict(benchmark='actnn_layers', batches=args.batches,
                          **result)))


if __name__ == '__main__':
    main()
