"""Distilled digits students vs the same student trained alone.

Usage: python benchmarks/kd_digits.py [--seeds 0 1 2] [--methods alone kd ...]
The teacher is the digits baseline in its default work dir
(`work_dirs/digits_resnet/epoch_30.pth`, which the KD, QAT and MESS digits
configs share); it is trained once, as `python tools/train.py
configs/baseline/digits_resnet.py` does, if it is missing. Then, for every
seed, the small student is trained alone and with each distillation method,
all with the same schedule (10 epochs) and seed. Prints one JSON line with
every final validation accuracy and the mean margin over `alone`.
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
from _tools import REPO  # noqa: E402
from _tools import train as train_tool  # noqa: E402

TEACHER = 'work_dirs/digits_resnet/epoch_30.pth'
CONFIGS = {
    'alone': 'configs/kd/digits_student.py',
    'kd': 'configs/kd/kd/kd_digits.py',
    'fitnet': 'configs/kd/fitnet/fitnet_digits.py',
    'ab': 'configs/kd/ab/ab_digits.py',
    'ft': 'configs/kd/factor_transfer/ft_digits.py',
    'meal': 'configs/kd/meal/meal_digits.py',
}


def train(config, seed, work_dir):
    start = time.perf_counter()
    acc = train_tool(config, seed, work_dir)
    return acc, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', default=list(CONFIGS))
    parser.add_argument('--jobs', type=int, default=1,
                        help='training runs at once (e.g. on a GPU)')
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(REPO, TEACHER)):
        train('configs/baseline/digits_resnet.py', 0,
              os.path.dirname(TEACHER))
    runs = [(m, s) for s in args.seeds for m in args.methods]
    with tempfile.TemporaryDirectory() as tmp, \
            ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(
            lambda r: train(CONFIGS[r[0]], r[1],
                            os.path.join(tmp, f'{r[0]}_{r[1]}')), runs))
    results = {m: [] for m in args.methods}
    seconds = {m: [] for m in args.methods}
    for (method, _), (acc, wall) in zip(runs, done):
        results[method].append(acc)
        seconds[method].append(round(wall, 1))
    alone = results.get('alone')
    summary = {}
    for method, accs in results.items():
        entry = dict(top1=accs, mean=round(statistics.mean(accs), 2))
        if alone and method != 'alone':
            margins = [a - b for a, b in zip(accs, alone)]
            entry['margin_mean'] = round(statistics.mean(margins), 2)
            entry['wins'] = sum(m > 0 for m in margins)
        summary[method] = entry
    print(json.dumps(dict(benchmark='kd_digits', seeds=args.seeds,
                          results=summary, wall_s=seconds,
                          machine=machine())))


if __name__ == '__main__':
    main()
