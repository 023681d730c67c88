"""What ActNN saves and costs: the compression ratio of the tensors kept
for backward, the step-time overhead, and (on a GPU) the largest batch
under a memory budget and the throughput.

Usage: python benchmarks/actnn_memory.py [--batch 8] [--repeats 10]
       [--budget-gib 8]

1. Ratio: one training step of ResNet-18 and ResNet-50 (mmpretrain,
   224x224) under the controller; every byte autograd keeps counts (the
   image, BN statistics, max-pool indices included), storage saved by
   several ops once. Fixed 2 and 4 bits, and L3 (average 2 bits, bits
   chosen after one step). Targets: >= 12x at 2 bits (limit 15.06x with
   group 256 and bf16 metadata), >= 7x at 4 bits (limit 7.76x).
2. Step time (forward + backward) of ResNet-18 on 32x32 images, batch 64,
   with and without compression, side by side.
3. With CUDA: for ResNet-50 at 224, the largest batch whose training step
   stays under --budget-gib (torch.cuda.max_memory_allocated over whole
   steps, binary search), without compression and at L3, and the
   throughput at those batches (target >= 0.75 of uncompressed).
Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _timing import interleaved_medians  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
SETTINGS = {'2 bits': dict(default_bit=2), '4 bits': dict(default_bit=4),
            'L3': dict(level='L3', adapt_interval=1)}


def resnet(depth, device='cpu'):
    import torch
    from mmpretrain.models import ResNet
    torch.manual_seed(0)
    backbone = ResNet(depth=depth)
    width = 512 if depth < 50 else 2048
    return torch.nn.Sequential(backbone, _Head(width)).to(device).train()


class _Head:
    def __new__(cls, width):
        import torch

        class Head(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(width, 1000)

            def forward(self, feats):
                return self.fc(feats[-1].mean((2, 3)))
        return Head()


def step(model, images, labels, controller=None):
    import torch
    model.zero_grad(set_to_none=True)
    if controller is None:
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        return
    controller.filter_tensors(model.named_parameters())
    with controller.hooks():
        loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    controller.iterate()


def ratios(batch):
    import torch

    from gml.actnn import Controller
    out = {}
    for depth in (18, 50):
        model = resnet(depth)
        images = torch.randn(batch, 3, 224, 224)
        labels = torch.randint(0, 1000, (batch, ))
        row = {}
        for name, kwargs in SETTINGS.items():
            controller = Controller(seed=0, **kwargs)
            for _ in range(2 if name == 'L3' else 1):
                step(model, images, labels, controller)
            last = controller.history[-1]
            row[name] = dict(ratio=round(last['raw_bytes'] /
                                         last['packed_bytes'], 2),
                             raw_mib=round(last['raw_bytes'] / 2**20, 1),
                             packed_mib=round(last['packed_bytes'] / 2**20,
                                              2))
        out[f'ResNet-{depth}'] = row
    return out


def overhead(repeats):
    import torch

    from gml.actnn import Controller
    model = resnet(18)
    images = torch.randn(64, 3, 32, 32)
    labels = torch.randint(0, 1000, (64, ))
    controllers = {name: Controller(seed=0, **kwargs)
                   for name, kwargs in SETTINGS.items()}
    controllers['L0'] = Controller(level='L0')
    fns = {'fp32': lambda: step(model, images, labels)}
    for name, controller in controllers.items():
        fns[name] = (lambda c=controller: step(model, images, labels, c))
    times = interleaved_medians(fns, repeats)
    return dict(step_ms=times, ratio_to_fp32={
        k: round(v / times['fp32'], 3) for k, v in times.items()})


def gpu(budget_gib):
    import torch

    from gml.actnn import Controller
    model = resnet(50, 'cuda')
    budget = budget_gib * 2**30

    def peak(batch, settings):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        images = torch.randn(batch, 3, 224, 224, device='cuda')
        labels = torch.randint(0, 1000, (batch, ), device='cuda')
        controller = Controller(**settings) if settings else None
        try:
            for _ in range(2):
                step(model, images, labels, controller)
            torch.cuda.synchronize()
        except torch.cuda.OutOfMemoryError:
            return float('inf')
        return torch.cuda.max_memory_allocated()

    def largest(settings):
        low, high = 0, 8
        while peak(high, settings) <= budget:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if peak(mid, settings) <= budget \
                else (low, mid)
        return low

    def throughput(batch, settings):
        images = torch.randn(batch, 3, 224, 224, device='cuda')
        labels = torch.randint(0, 1000, (batch, ), device='cuda')
        controller = Controller(**settings) if settings else None
        for _ in range(3):
            step(model, images, labels, controller)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            step(model, images, labels, controller)
        torch.cuda.synchronize()
        return 10 * batch / (time.perf_counter() - start)

    result = {}
    for name, settings in (('fp32', None),
                           ('L3', dict(level='L3', adapt_interval=20))):
        batch = largest(settings)
        result[name] = dict(max_batch=batch,
                            images_per_s=round(throughput(batch, settings),
                                               1))
    result['batch_ratio'] = round(result['L3']['max_batch'] /
                                  result['fp32']['max_batch'], 2)
    result['throughput_ratio'] = round(result['L3']['images_per_s'] /
                                       result['fp32']['images_per_s'], 3)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--budget-gib', type=float, default=8)
    args = parser.parse_args()
    import torch
    result = dict(benchmark='actnn_memory', batch=args.batch,
                  ratio=ratios(args.batch), cpu_step=overhead(args.repeats))
    result['gpu'] = gpu(args.budget_gib) if torch.cuda.is_available() \
        else 'no CUDA device on this machine'
    print(json.dumps(dict(result, machine=machine())))


if __name__ == '__main__':
    main()
