"""Training with compressed activations on the digits: accuracy against
the uncompressed run with the same seed.

Usage: python benchmarks/actnn_digits.py [--seeds 0 1 2] [--jobs 2]
Trains the digits baseline ResNet (30 epochs) for every seed without
compression, with 4-bit activations (configs/actnn/actnn_b4_resnet_digits.py),
at level L3 (2 bits on average, configs/actnn/actnn_l3_resnet_digits.py)
and with fixed 2-bit activations. Prints one JSON line with every final
validation accuracy, the mean margin to fp32, each run's wall time and the
compression ratio the hook logged last.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _tools import accuracy, tool  # noqa: E402

RUNS = {
    'fp32': ('configs/baseline/digits_resnet.py', ()),
    '4 bits': ('configs/actnn/actnn_b4_resnet_digits.py', ()),
    'L3': ('configs/actnn/actnn_l3_resnet_digits.py', ()),
    '2 bits': ('configs/actnn/actnn_b4_resnet_digits.py',
               ('custom_hooks.0.default_bit=2', )),
}


def run(name, seed, tmp):
    config, options = RUNS[name]
    start = time.perf_counter()
    out = tool('train.py', config, '--work-dir', f'{tmp}/{name}_{seed}',
               '--cfg-options', f'randomness.seed={seed}', *options,
               threads=1)
    ratios = re.findall(r'actnn_ratio: ([0-9.]+)', out)
    return dict(accuracy=accuracy(out),
                wall_s=round(time.perf_counter() - start, 1),
                ratio=float(ratios[-1]) if ratios else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--jobs', type=int, default=2,
                        help='trainings at once (one thread each)')
    args = parser.parse_args()
    jobs = [(name, seed) for seed in args.seeds for name in RUNS]
    with tempfile.TemporaryDirectory() as tmp, \
            ThreadPoolExecutor(args.jobs) as pool:
        done = dict(zip(jobs, pool.map(lambda j: run(*j, tmp), jobs)))
    results = {}
    for name in RUNS:
        mine = [done[(name, s)] for s in args.seeds]
        results[name] = dict(
            values=[r['accuracy'] for r in mine],
            mean=round(statistics.mean(r['accuracy'] for r in mine), 3),
            margin_mean=round(statistics.mean(
                done[(name, s)]['accuracy'] - done[('fp32', s)]['accuracy']
                for s in args.seeds), 3),
            wall_s=[r['wall_s'] for r in mine],
            ratio=[r['ratio'] for r in mine])
    print(json.dumps(dict(benchmark='actnn_digits', seeds=args.seeds,
                          results=results, machine=machine())))


if __name__ == '__main__':
    main()
