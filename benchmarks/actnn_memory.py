"""What ActNN saves and costs: the compression ratio of the tensors kept
for backward, the step-time overhead, and (on a GPU) the largest batch
under a memory budget and the throughput.

Usage: python benchmarks/actnn_memory.py [--batch 8] [--repeats 10]
       [--budget-gib 8] [--max-batch 1024] [--level-seconds 60] [--gpu-only]

1. Ratio: one training step of ResNet-18 and ResNet-50 (mmpretrain,
   224x224) under the controller; every byte autograd keeps counts (the
   image, BN statistics, max-pool indices included), storage saved by
   several ops once. Fixed 2 and 4 bits, and L3 (average 2 bits, bits
   chosen after one step). Targets: >= 12x at 2 bits (limit 15.06x with
   group 256 and bf16 metadata), >= 7x at 4 bits (limit 7.76x).
2. Step time (forward + backward) of ResNet-18 on 32x32 images, batch 64,
   with and without compression, side by side.
3. With CUDA, for ResNet-50 at 224 with the allocator capped at
   --budget-gib: the largest batch whose two training steps run and keep
   torch.cuda.max_memory_allocated within the budget (doubling, then
   bisection to within 1/16; at most --max-batch, --level-seconds per
   level) at L0, L1, L3 and L4; then, at 7/8 of L0's largest batch, the
   peak memory (above the weights) and the throughput of fp32 (no hooks)
   and of each level, as ratios to L0. Targets at L3: >= 6x the batch (ActNN: 6.6x at 2 bits)
   and >= 0.75 of the throughput (ActNN: about 0.72).
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


GPU_LEVELS = ('L0', 'L1', 'L3', 'L4')
DEVICE, IMAGE = 'cuda', 224  # of the GPU part (a test runs it on fakes)


def largest_batch(fits, cap, seconds):
    """The largest batch for which ``fits(batch)``: doubling from 8, then
    bisection to within 1/16. Returns (batch, why it stopped early: None,
    'cap' when ``cap`` fits too (the batch is a lower bound), or 'time'
    after ``seconds``)."""
    deadline = time.monotonic() + seconds
    low, high = 0, 8
    while fits(high):
        low, high = high, high * 2
        if high > cap:
            return low, 'cap'
        if time.monotonic() > deadline:
            return low, 'time'
    while high - low > max(1, low // 16):
        if time.monotonic() > deadline:
            return low, 'time'
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low, None


def gpu(budget_gib, max_batch, level_seconds):
    """ResNet-50 at 224 px on CUDA under a memory budget (the allocator
    capped at ``budget_gib`` with set_per_process_memory_fraction): the
    largest batch at each level, then peak memory and throughput of every
    level at L0's largest batch. Each level's result is also printed to
    stderr as it comes (a run cut short keeps them)."""
    import torch

    from gml.actnn import Controller
    budget = budget_gib * 2**30
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, budget / total))
    model = resnet(50, DEVICE)

    def batch_of(size):
        return (torch.randn(size, 3, IMAGE, IMAGE, device=DEVICE),
                torch.randint(0, 1000, (size, ), device=DEVICE))

    def controller(level):
        return Controller(level=level, seed=0) if level != 'fp32' else None

    def fits(level, size):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            images, labels = batch_of(size)
            ctl = controller(level)
            for _ in range(2):  # auto precision chooses bits after one
                step(model, images, labels, ctl)
            torch.cuda.synchronize()
        except torch.cuda.OutOfMemoryError:
            return False
        return torch.cuda.max_memory_allocated() <= budget

    def timed(level, size, steps=10):
        """Images/s, peak MiB and peak MiB above the weights of ``steps``
        training steps after 3 warm-up steps (None: out of memory)."""
        torch.cuda.empty_cache()
        try:
            images, labels = batch_of(size)
            resident = torch.cuda.memory_allocated()
            ctl = controller(level)
            for _ in range(3):
                step(model, images, labels, ctl)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            for _ in range(steps):
                step(model, images, labels, ctl)
            torch.cuda.synchronize()
        except torch.cuda.OutOfMemoryError:
            return dict(images_per_s=None, peak_mib=None,
                        peak_above_weights_mib=None)
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated()
        return dict(images_per_s=round(steps * size / seconds, 1),
                    peak_mib=round(peak / 2**20, 1),
                    peak_above_weights_mib=round((peak - resident) / 2**20,
                                                 1))

    def report(row):
        print('actnn_memory gpu: ' + json.dumps(row), file=sys.stderr,
              flush=True)
        return row

    batches = {}
    for level in GPU_LEVELS:
        start = time.monotonic()
        size, stopped = largest_batch(lambda b: fits(level, b), max_batch,
                                      level_seconds)
        batches[level] = report(dict(
            level=level, max_batch=size, stopped=stopped,
            search_s=round(time.monotonic() - start, 1)))
    # 7/8 of L0's largest batch: every level fits it with room to spare
    same = max(1, batches['L0']['max_batch'] * 7 // 8)
    speed = {level: report(dict(level=level, batch=same,
                                **timed(level, same)))
             for level in ('fp32', ) + GPU_LEVELS}

    def ratios_to_l0(rows, key, digits):
        base = rows['L0'][key]
        return {k: round(v[key] / base, digits) if v[key] and base else None
                for k, v in rows.items()}
    return dict(
        model=f'ResNet-50 {IMAGE}px', budget_gib=budget_gib,
        max_batch=batches, at_same_batch=speed,
        batch_ratio=ratios_to_l0(batches, 'max_batch', 2),
        peak_ratio=ratios_to_l0(speed, 'peak_above_weights_mib', 3),
        throughput_ratio=ratios_to_l0(speed, 'images_per_s', 3),
        targets=dict(L3_batch_ratio='>= 6 (ActNN: 6.6)',
                     L3_throughput_ratio='>= 0.75 (ActNN: about 0.72)'))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--budget-gib', type=float, default=8)
    parser.add_argument('--max-batch', type=int, default=1024,
                        help='the GPU batch search stops here')
    parser.add_argument('--level-seconds', type=float, default=60,
                        help='time for the batch search of one GPU level')
    parser.add_argument('--gpu-only', action='store_true',
                        help='skip the CPU parts (1. and 2.)')
    args = parser.parse_args()
    import torch
    result = dict(benchmark='actnn_memory')
    if not args.gpu_only:
        result.update(batch=args.batch, ratio=ratios(args.batch),
                      cpu_step=overhead(args.repeats))
    result['gpu'] = gpu(args.budget_gib, args.max_batch, args.level_seconds) \
        if torch.cuda.is_available() else 'no CUDA device on this machine'
    print(json.dumps(dict(result, machine=machine())))


if __name__ == '__main__':
    main()
