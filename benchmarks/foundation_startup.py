"""Start-up cost of gml's entry points and speed of the space primitives.

Usage: python benchmarks/foundation_startup.py
Prints one JSON line: median wall time (5 fresh interpreters) to import
`gml`, `gml.space` and `gml.registry`, and to print `tools/train.py --help`;
and grid enumeration / seeded sampling rates of a 6-dimensional space.
"""
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def fresh_seconds(args, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, cwd=REPO, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def main():
    py = sys.executable
    startup = {
        'python_alone_s': fresh_seconds([py, '-c', 'pass']),
        'import_gml_s': fresh_seconds([py, '-c', 'import gml']),
        'import_gml_space_s': fresh_seconds([py, '-c', 'import gml.space']),
        'import_gml_registry_s': fresh_seconds(
            [py, '-c', 'import gml.registry']),
        'train_help_s': fresh_seconds([py, 'tools/train.py', '--help']),
    }
    from gml.space import build_search_space_recur, grid_of, sample_of
    tree = build_search_space_recur(dict(
        lr=dict(type='Real', lower=1e-3, upper=0.3, log=True, count=8),
        wd=dict(type='Categorical', data=[0, 1e-5, 1e-4, 5e-4]),
        depth=dict(type='Categorical', data=[18, 34, 50]),
        width=[dict(type='Int', lower=8, upper=65, step=8)] * 2,
        opt=dict(type='Nested', data=[dict(name='sgd', momentum=0.9),
                                      dict(name='adam')])))
    start = time.perf_counter()
    grid = grid_of(tree)
    grid_rate = len(grid) / (time.perf_counter() - start)
    start = time.perf_counter()
    for seed in range(20000):
        sample_of(tree, seed)
    sample_rate = 20000 / (time.perf_counter() - start)
    print(json.dumps(dict(
        benchmark='foundation_startup', **startup, grid_size=len(grid),
        grid_configs_per_s=round(grid_rate), samples_per_s=round(sample_rate),
        machine=machine())))


if __name__ == '__main__':
    main()
