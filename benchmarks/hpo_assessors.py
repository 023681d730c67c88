"""Replay real learning curves through the early-stopping assessors.

Usage: python benchmarks/hpo_assessors.py [--data PATH] [--orders 20]

Reads benchmarks/data/digits_learning_curves.json (made by
benchmarks/make_digits_curves.py) and replays its trials one after another
(parallel trials simulated as sequential completion): each trial reports its
validation accuracy epoch by epoch, the assessor judges every report, and a
trial it stops ends there (trial_end with completed=False). This is done in
the file's order and in ``--orders`` random orders (seeds 0, 1, ...).

Prints one JSON line. Per assessor: the share of epochs saved
(1 - epochs run / epochs of all full curves), whether the best trial (highest
final accuracy) survived, how many trials were stopped, and the regret (best
final accuracy of all trials minus that of the surviving trials, in accuracy
points); for the random orders their mean, the share of orders in which the
best survived, and the range. For CurveFittingAssessor also the latency of the assess calls that ran
a prediction under the default config (median, p95, max ms; after one warm-up prediction that loads
numba's compiled code, whose time is given too), and, for comparison, the
latency of the file order's predictions with numba's compiler switched off
(NUMBA_DISABLE_JIT=1 in a child process: the same kernels run as plain
Python).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

from gml.search.assessors import (CurveFittingAssessor,  # noqa: E402
                                  MedianStopAssessor)
from gml.search.assessors import curve_models  # noqa: E402

ASSESSOR_CONFIGS = {
    'curve_fitting': (CurveFittingAssessor, dict(epoch_num=20)),
    # Judging only after half the curve, for comparison.
    'curve_fitting_start_step_10': (CurveFittingAssessor,
                                    dict(epoch_num=20, start_step=10)),
    'median_stop': (MedianStopAssessor, dict()),
    # Skipping the first, noisiest epochs, for comparison.
    'median_stop_start_step_5': (MedianStopAssessor, dict(start_step=5)),
    # NNI's rule as shipped: no startup guard.
    'median_stop_no_startup_guard': (MedianStopAssessor,
                                     dict(n_startup_trials=0)),
}


class TimedPredictions:
    """Wraps an assessor's predict to time it and keep its inputs."""

    def __init__(self, assessor):
        self.inner = assessor.predict
        self.ms = []
        self.histories = []
        assessor.predict = self

    def __call__(self, history):
        start = time.perf_counter()
        value = self.inner(history)
        self.ms.append(1000 * (time.perf_counter() - start))
        self.histories.append(list(history))
        return value


def replay(cls, kwargs, curves, order):
    assessor = cls(**kwargs)
    timer = TimedPredictions(assessor) \
        if isinstance(assessor, CurveFittingAssessor) else None
    run, stopped, survived = 0, [], []
    for tid in order:
        curve = curves[tid]
        for n in range(1, len(curve) + 1):
            if not assessor.assess(tid, curve[:n]):
                run += n
                stopped.append(tid)
                assessor.trial_end(tid, curve[:n], False)
                break
        else:
            run += len(curve)
            survived.append(tid)
            assessor.trial_end(tid, list(curve), True)
    return run, stopped, survived, timer


PLAIN_PYTHON = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from gml.search.assessors import curve_models
ms = []
for history in json.load(sys.stdin):
    start = time.perf_counter()
    curve_models.predict_final(history, 20)
    ms.append(1000 * (time.perf_counter() - start))
print(json.dumps(ms))
"""


def plain_python_ms(histories):
    """Latency of each prediction with numba's compiler off."""
    run = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c', PLAIN_PYTHON, REPO],
        input=json.dumps(histories), capture_output=True, text=True,
        check=True, env=dict(os.environ, NUMBA_DISABLE_JIT='1'))
    return json.loads(run.stdout)


def percentile(values, q):
    return float(np.percentile(values, q)) if values else None


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--data', default=os.path.join(
        REPO, 'benchmarks', 'data', 'digits_learning_curves.json'))
    parser.add_argument('--orders', type=int, default=20)
    args = parser.parse_args()
    with open(args.data) as f:
        data = json.load(f)
    curves = [run['val_top1'] for run in data['runs']]
    total = sum(len(c) for c in curves)
    finals = [c[-1] for c in curves]
    best_final = max(finals)
    best_ids = {i for i, v in enumerate(finals) if v == best_final}
    orders = [list(range(len(curves)))]
    orders += [list(np.random.default_rng(seed).permutation(len(curves)))
               for seed in range(args.orders)]

    # Warm-up: load numba and its cached compiled kernels once.
    start = time.perf_counter()
    curve_models.predict_final(curves[0][:6], 20)
    first_call_s = time.perf_counter() - start

    result = dict(benchmark='hpo_assessors', data=os.path.relpath(
        args.data, REPO), trials=len(curves), epochs_per_trial=data['epochs'],
        total_epochs=total, best_final=best_final,
        orders=dict(fixed='file order', random=args.orders), assessors={})
    latencies, histories = [], []
    for name, (cls, kwargs) in ASSESSOR_CONFIGS.items():
        per_order = []
        for k, order in enumerate(orders):
            run, stopped, survived, timer = replay(cls, kwargs, curves, order)
            per_order.append(dict(
                epochs_saved=round(1 - run / total, 4),
                best_survived=bool(best_ids & set(survived)),
                stopped=len(stopped),
                best_found=max((finals[i] for i in survived), default=None),
                regret=round(best_final - max(
                    (finals[i] for i in survived), default=0.0), 4)))
            if timer is not None and name == 'curve_fitting':
                latencies += timer.ms
                if k == 0:
                    histories = timer.histories
        fixed, rand = per_order[0], per_order[1:]
        saved = [r['epochs_saved'] for r in rand]
        stops = [r['stopped'] for r in rand]
        result['assessors'][name] = dict(
            config=dict(type=cls.__name__, **kwargs),
            fixed_order=fixed,
            random_orders=dict(
                epochs_saved_mean=round(float(np.mean(saved)), 4),
                epochs_saved_range=[min(saved), max(saved)],
                best_survived_share=round(
                    float(np.mean([r['best_survived'] for r in rand])), 4),
                regret_mean=round(float(np.mean(
                    [r['regret'] for r in rand])), 4),
                regret_max=max(r['regret'] for r in rand),
                stopped_mean=round(float(np.mean(stops)), 2),
                stopped_range=[min(stops), max(stops)]))

    # The fixed order's predictions again without numba, for the speed-up.
    plain = plain_python_ms(histories)
    same = []
    for history in histories:
        start = time.perf_counter()
        curve_models.predict_final(history, 20)
        same.append(1000 * (time.perf_counter() - start))
    result['curve_fitting_latency'] = dict(
        predictions=len(latencies),
        median_ms=round(percentile(latencies, 50), 2),
        p95_ms=round(percentile(latencies, 95), 2),
        max_ms=round(max(latencies), 2), target_ms=20,
        first_call_s=round(first_call_s, 2),
        fixed_order_numba_median_ms=round(percentile(same, 50), 2),
        fixed_order_plain_python_median_ms=round(percentile(plain, 50), 2),
        numba_speedup=round(percentile(plain, 50) / percentile(same, 50), 1))
    result['machine'] = machine()
    print(json.dumps(result))


if __name__ == '__main__':
    main()
