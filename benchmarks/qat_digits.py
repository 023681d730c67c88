"""Quantization-aware training on the digits: int8 and the low-bit methods
against the fp32 model they start from.

Usage: python benchmarks/qat_digits.py [--seeds 0 1 2] [--methods ...]
       [--jobs 2] [--work-dir DIR]
For every seed: trains the fp32 baseline (30 epochs), then fine-tunes it
with each method's digits config (int8 IAO: 5 epochs, then converted to
int8, exported and evaluated as an int8 program; low-bit methods: 30
epochs of fake quantization). Prints one JSON line with every final
validation accuracy and each method's mean margin to its fp32 start.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _tools import accuracy, tool, train  # noqa: E402

BASELINE = 'configs/baseline/digits_resnet.py'
IAO = 'configs/qat/IAO/classification/iao_res18_digits_quantization.py'
LOWBIT = {name: f'configs/quantization/{name.split("_")[0].rstrip("p")}/'
          f'{name}_resnet_digits.py'
          for name in ('lsq_w4a4', 'lsq_w2a2', 'pact_w4a4', 'dorefa_w4a4',
                       'lqnets_w2a2', 'xnor_w1a32', 'xnorpp_w1a32')}
METHODS = ['int8'] + list(LOWBIT)


def baseline(seed, tmp):
    work = f'{tmp}/fp32_{seed}'
    if os.path.isfile(f'{work}/epoch_30.pth'):  # a kept --work-dir
        return accuracy(tool('test.py', BASELINE, f'{work}/epoch_30.pth',
                             '--work-dir', f'{work}/test', threads=1))
    return train(BASELINE, seed, work, threads=1)


def quantize(method, seed, tmp):
    start = time.perf_counter()
    work = f'{tmp}/{method}_{seed}'
    pretrained = f'algorithm.pretrained={tmp}/fp32_{seed}/epoch_30.pth'
    if method != 'int8':
        acc = train(LOWBIT[method], seed, work, pretrained, threads=1)
        return dict(accuracy=acc, wall_s=time.perf_counter() - start)
    simulated = train(IAO, seed, work, pretrained, threads=1)
    tool('export_quantized.py', IAO, f'{work}/epoch_5.pth', '--out-dir',
         f'{work}/int8', threads=1)
    int8 = accuracy(tool('test.py', IAO, f'{work}/int8/int8_model.pt2',
                         '--work-dir', f'{work}/test', threads=1))
    return dict(accuracy=int8, simulated=simulated,
                wall_s=time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', default=METHODS,
                        choices=METHODS)
    parser.add_argument('--jobs', type=int, default=2,
                        help='trainings at once (one thread each)')
    parser.add_argument('--work-dir', help='keep the runs here (default: a '
                        'temporary folder); baselines found there are '
                        'reused')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, \
            ThreadPoolExecutor(args.jobs) as pool:
        tmp = args.work_dir or scratch
        fp32 = dict(zip(args.seeds, pool.map(lambda s: baseline(s, tmp),
                                             args.seeds)))
        runs = [(m, s) for m in args.methods for s in args.seeds]
        done = list(pool.map(lambda r: quantize(*r, tmp), runs))
    results = {'fp32': dict(values=[fp32[s] for s in args.seeds],
                            mean=round(statistics.mean(fp32.values()), 3))}
    for method in args.methods:
        mine = [(s, d) for (m, s), d in zip(runs, done) if m == method]
        entry = dict(values=[d['accuracy'] for _, d in mine],
                     mean=round(statistics.mean(d['accuracy']
                                                for _, d in mine), 3),
                     margin_mean=round(statistics.mean(
                         d['accuracy'] - fp32[s] for s, d in mine), 3),
                     wall_s=[round(d['wall_s'], 1) for _, d in mine])
        if method == 'int8':
            entry['fake_quant'] = [d['simulated'] for _, d in mine]
        results[method] = entry
    print(json.dumps(dict(benchmark='qat_digits', seeds=args.seeds,
                          results=results, machine=machine())))


if __name__ == '__main__':
    main()
