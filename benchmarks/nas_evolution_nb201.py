"""SubnetEvolution vs random search on the NAS-Bench-201 table (CIFAR-10).

Usage: python benchmarks/nas_evolution_nb201.py [--seeds 20] [--evals 300]
           [--threshold 93.9] [--data PATH/TO/data.anb]

The table comes from the ``analog-nasbench`` wheel (benchmark-only extra,
``pip install analog-nasbench==0.1.3``; not a gml dependency): its
``analognasbench/data.anb`` pickle maps 6-tuples of op indices (0 skip,
1 none, 2 conv3x3, 3 conv1x1, 4 avg-pool) to records with
``baseline_accuracy``. The file is read directly, so the package's own
imports (pandas, pkg_resources) are not needed.

Space: 6 Categorical genes over 0..4. Score: baseline accuracy. Cost: MFLOPs
of the TinyNetwork skeleton, MACs = 7,783,040 + 35,389,440 n_conv3x3 +
3,932,160 n_conv1x1. Every method gets the same number of distinct
evaluations per seed, under a FLOPs budget (<= 120 MFLOPs) and without one.
Prints one JSON line; progress goes to stderr.
"""
import argparse
import importlib.util
import json
import os
import pickle
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from gml.algorithms.nas.evolution import (SubnetEvolution,  # noqa: E402
                                          random_subnet_search)
from gml.space import Categorical  # noqa: E402

EDGES = ['1-2', '1-3', '1-4', '2-3', '2-4', '3-4']
BUDGETS = {'le120mflops': (0.0, 120.0), 'none': None}
METHODS = {
    # scaled to a few hundred evaluations (MMRazor/SPOS-sized pool)
    'evolution': dict(candidate_pool_size=50, top_k=10, num_mutation=25,
                      num_crossover=25, mutate_prob=0.2),
    # the GML docs defaults (the first pool alone takes 256 evaluations)
    'evolution_gml_defaults': dict(candidate_pool_size=256, top_k=128,
                                   num_mutation=128, num_crossover=128,
                                   mutate_prob=0.2),
}


class _Record:
    """Stand-in for the wheel's record classes (attributes only)."""


class _TableUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == 'analognasbench.data':
            return _Record
        raise pickle.UnpicklingError(f'unexpected class {module}.{name}')


def find_table() -> str:
    spec = importlib.util.find_spec('analognasbench')
    if spec is None or spec.origin is None:
        raise SystemExit('analog-nasbench is not installed: pip install '
                         'analog-nasbench==0.1.3 (or pass --data)')
    return os.path.join(os.path.dirname(spec.origin), 'data.anb')


def load_table(path: str) -> dict:
    """``{6-tuple: baseline accuracy in %}`` for all 15,625 cells."""
    with open(path, 'rb') as f:
        raw = _TableUnpickler(f).load()
    table = {tuple(int(i) for i in key): float(record.baseline_accuracy)
             for key, record in raw.items()}
    if len(table) != 15625:
        raise SystemExit(f'{path}: expected 15625 cells, found {len(table)}')
    return table


def mflops(cell) -> float:
    macs = 7_783_040 + 35_389_440 * cell.count(2) + 3_932_160 * cell.count(3)
    return macs / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, default=20)
    parser.add_argument('--evals', type=int, default=300)
    parser.add_argument('--threshold', type=float, default=93.9)
    parser.add_argument('--data', default=None)
    args = parser.parse_args()

    path = args.data or find_table()
    table = load_table(path)
    space = dict(cell=[Categorical([0, 1, 2, 3, 4]) for _ in EDGES])

    def score(config):
        return table[tuple(config['cell'])]

    def cost(config):
        return mflops(config['cell'])

    out = dict(benchmark='nas_evolution_nb201', table=os.path.basename(path),
               cells=len(table), evals=args.evals, seeds=args.seeds,
               threshold=args.threshold,
               settings=dict(METHODS, random={}), results={})
    started = time.time()
    for budget, constraints in BUDGETS.items():
        lo, hi = constraints or (float('-inf'), float('inf'))
        feasible = {k: v for k, v in table.items() if lo <= mflops(k) <= hi}
        optimum_cell = max(feasible, key=feasible.get)
        entry = dict(constraints=constraints, feasible_cells=len(feasible),
                     optimum=feasible[optimum_cell],
                     optimum_cell=list(optimum_cell),
                     optimum_mflops=round(mflops(optimum_cell), 3),
                     methods={})
        runs = {name: [] for name in list(METHODS) + ['random']}
        for seed in range(args.seeds):
            for name, settings in METHODS.items():
                search = SubnetEvolution(space, score, cost,
                                         constraints=constraints,
                                         max_generations=1000,
                                         max_evaluations=args.evals,
                                         seed=seed, **settings)
                search.run()
                best = search.best
                runs[name].append((best['score'], best['evaluation'],
                                   search.evaluations, best['cost']))
            rand = random_subnet_search(space, score, cost, args.evals,
                                        constraints=constraints, seed=seed)
            runs['random'].append((rand['score'], rand['evaluation'],
                                   rand['evaluations'],
                                   mflops(rand['config']['cell'])))
            print(f'{budget} seed {seed}: ' + ', '.join(
                f'{n} {r[-1][0]:.3f}' for n, r in runs.items()),
                file=sys.stderr)
        for name, results in runs.items():
            scores = [r[0] for r in results]
            entry['methods'][name] = dict(
                median_best=round(statistics.median(scores), 4),
                mean_best=round(statistics.mean(scores), 4),
                share_ge_threshold=sum(s >= args.threshold
                                       for s in scores) / len(scores),
                share_optimum=sum(s >= entry['optimum']
                                  for s in scores) / len(scores),
                median_evals_to_best=statistics.median(r[1]
                                                       for r in results),
                evaluations=sorted({r[2] for r in results}),
                max_best_mflops=round(max(r[3] for r in results), 3),
                best_per_seed=[round(s, 4) for s in scores])
        out['results'][budget] = entry
    out['seconds'] = round(time.time() - started, 2)
    out['machine'] = machine()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
