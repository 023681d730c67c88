"""How well the HPO searchers minimize standard test functions.

Usage: python benchmarks/hpo_searchers.py [--seeds 10] [--evals 50]
           [--problems branin,hartmann6,rosenbrock10]
           [--methods random,skopt,evolution,tpe,tpe_gml,tpe_gml@4,...]

Prints one JSON line: for every problem and method, the median (and mean)
simple regret (best value found minus the known minimum) over the seeds after
``--evals`` evaluations, the regret of every seed, and the mean time per
trial spent inside the method (suggest + observe; for Optuna ask + sampling
+ tell). Methods: gml's RandomSearcher, SkoptSearcher (GP, its defaults),
EvolutionSearcher (its defaults, told the budget) and TPESearcher
(``tpe_gml``, its defaults), and Optuna's TPESampler used directly
(``tpe``, Optuna's defaults) side by side. ``METHOD@P`` runs a gml
searcher with P trials outstanding (parallel_size P, results told oldest
first). Progress goes to stderr.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


# -- test functions (from their published definitions) -----------------------
def branin(x):
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887."""
    x1, x2 = x
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + \
        10 * (1 - t) * math.cos(x1) + 10


HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
HARTMANN_A = ((10, 3, 17, 3.5, 1.7, 8),
              (0.05, 10, 17, 0.1, 8, 14),
              (3, 3.5, 1.7, 10, 17, 8),
              (17, 8, 0.05, 10, 0.1, 14))
HARTMANN_P = ((1312, 1696, 5569, 124, 8283, 5886),
              (2329, 4135, 8307, 3736, 1004, 9991),
              (2348, 1451, 3522, 2883, 3047, 6650),
              (4047, 8828, 8732, 5743, 1091, 381))


def hartmann6(x):
    """Hartmann 6-D on [0, 1]^6; minimum -3.32237."""
    total = 0.0
    for alpha, a_row, p_row in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P):
        inner = sum(a * (xj - p * 1e-4) ** 2
                    for a, xj, p in zip(a_row, x, p_row))
        total += alpha * math.exp(-inner)
    return -total


def rosenbrock(x):
    """Rosenbrock on [-5, 10]^d (here d = 10); minimum 0 at (1, ..., 1)."""
    return sum(100 * (b - a * a) ** 2 + (a - 1) ** 2
               for a, b in zip(x[:-1], x[1:]))


PROBLEMS = {
    'branin': dict(fn=branin, optimum=0.397887,
                   bounds=[(-5.0, 10.0), (0.0, 15.0)]),
    'hartmann6': dict(fn=hartmann6, optimum=-3.32237,
                      bounds=[(0.0, 1.0)] * 6),
    'rosenbrock10': dict(fn=rosenbrock, optimum=0.0,
                         bounds=[(-5.0, 10.0)] * 10),
}
GML_METHODS = {'random': 'RandomSearcher', 'skopt': 'SkoptSearcher',
               'evolution': 'EvolutionSearcher', 'tpe_gml': 'TPESearcher'}
# `METHOD@P` (gml searchers): P trials outstanding at all times, as a search
# with parallel_size P: ask P points, then tell the oldest and ask a new one
# until --evals points are told.


# -- one run -----------------------------------------------------------------
def run_gml(method, problem, seed, evals):
    import collections
    from gml.search.registry import SEARCHERS
    from gml.space import Real
    import gml.search.searchers  # noqa: F401 (registers the searchers)
    bounds = problem['bounds']
    names = [f'x{i}' for i in range(len(bounds))]
    space = {n: Real(lo, hi) for n, (lo, hi) in zip(names, bounds)}
    name, _, parallel = method.partition('@')
    parallel = int(parallel or 1)
    from gml.search.searchers.base import with_budget
    # as search-run does with max_tries: searchers taking a `budget` (the
    # evolution) are told the number of evaluations
    searcher = SEARCHERS.build(
        with_budget(dict(type=GML_METHODS[name], optimize_mode='min',
                         seed=seed), evals),
        'searcher', space=space)
    best, spent, asked = math.inf, 0.0, 0
    outstanding = collections.deque()
    for _ in range(evals):
        while asked < evals and len(outstanding) < parallel:
            start = time.perf_counter()
            outstanding.append(searcher.suggest())
            spent += time.perf_counter() - start
            asked += 1
        params = outstanding.popleft()
        value = problem['fn']([params[n] for n in names])
        start = time.perf_counter()
        searcher.observe(params, value)
        spent += time.perf_counter() - start
        best = min(best, value)
    return best, spent / evals


def run_tpe(problem, seed, evals):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction='minimize', sampler=optuna.samplers.TPESampler(seed=seed))
    bounds = problem['bounds']
    best, spent = math.inf, 0.0
    for _ in range(evals):
        start = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float(f'x{i}', lo, hi)
             for i, (lo, hi) in enumerate(bounds)]
        spent += time.perf_counter() - start
        value = problem['fn'](x)
        start = time.perf_counter()
        study.tell(trial, value)
        spent += time.perf_counter() - start
        best = min(best, value)
    return best, spent / evals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, default=10)
    parser.add_argument('--evals', type=int, default=50)
    parser.add_argument('--problems', default='branin,hartmann6,rosenbrock10')
    parser.add_argument('--methods', default='random,skopt,evolution,tpe,'
                        'tpe_gml,tpe_gml@4,tpe_gml@8,skopt@4,skopt@8')
    args = parser.parse_args()
    problems = [p for p in args.problems.split(',') if p]
    methods = [m for m in args.methods.split(',') if m]
    for name in problems:
        if name not in PROBLEMS:
            parser.error(f'unknown problem {name!r}; expected some of '
                         f'{sorted(PROBLEMS)}')
    for name in methods:
        base, _, parallel = name.partition('@')
        if parallel and (base not in GML_METHODS or not parallel.isdigit()
                         or int(parallel) < 1):
            parser.error(f'bad method {name!r}: METHOD@P takes a gml '
                         'method and a parallel count P >= 1')
        if base not in GML_METHODS and name != 'tpe':
            parser.error(f'unknown method {name!r}; expected some of '
                         f'{sorted(GML_METHODS) + ["tpe"]}')
    results = {}
    started = time.perf_counter()
    for pname in problems:
        problem = PROBLEMS[pname]
        results[pname] = dict(optimum=problem['optimum'],
                              dims=len(problem['bounds']), methods={})
        for method in methods:
            regrets, times = [], []
            for seed in range(args.seeds):
                if method == 'tpe':
                    best, per_trial = run_tpe(problem, seed, args.evals)
                else:
                    best, per_trial = run_gml(method, problem, seed,
                                              args.evals)
                regrets.append(best - problem['optimum'])
                times.append(per_trial)
                print(f'{pname} {method} seed {seed}: regret '
                      f'{regrets[-1]:.5f}, {per_trial * 1e3:.1f} ms/trial '
                      f'({time.perf_counter() - started:.0f} s)',
                      file=sys.stderr, flush=True)
            results[pname]['methods'][method] = dict(
                median_regret=round(statistics.median(regrets), 6),
                mean_regret=round(statistics.mean(regrets), 6),
                regrets=[round(r, 6) for r in regrets],
                suggest_ms_per_trial=round(statistics.mean(times) * 1e3, 3))
    print(json.dumps(dict(
        benchmark='hpo_searchers', seeds=args.seeds, evals=args.evals,
        problems=results,
        wall_s=round(time.perf_counter() - started, 1),
        machine=machine())))


if __name__ == '__main__':
    main()
