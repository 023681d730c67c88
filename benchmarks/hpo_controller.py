"""Controller overhead: many short trials on the local scheduler.

Usage: python benchmarks/hpo_controller.py [--trials 200] [--parallel 8] [--seconds 1]
Runs `search-run` on a grid of N trials that each sleep S seconds (and report
one value), P at a time, and prints one JSON line with the wall time of the
whole command, the ideal time ceil(N/P) * S, and their ratio (target <= 1.05).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = """
task:
  template: "sleep {seconds} && echo '{{{{\\"step\\": 1, \\"acc\\": {{i}}}}}}' >> $GML_SEARCH_METRICS"
  search_args:
    i: {{type: Int, lower: 0, upper: {trials}}}
searcher: {{type: GridSearcher, reward_attribute: acc}}
scheduler:
  type: local
  parallel_size: {parallel}
generate_log: false
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--trials', type=int, default=200)
    parser.add_argument('--parallel', type=int, default=8)
    parser.add_argument('--seconds', type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'overhead.yaml')
        with open(path, 'w') as f:
            f.write(CONFIG.format(seconds=args.seconds, trials=args.trials,
                                  parallel=args.parallel))
        start = time.perf_counter()
        run = subprocess.run([sys.executable,
                              os.path.join(REPO, 'bin', 'search-run'), path],
                             cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if run.returncode != 0:
            sys.exit(run.stderr[-2000:])
        completed = run.stdout.count('COMPLETED')
    ideal = math.ceil(args.trials / args.parallel) * args.seconds
    print(json.dumps(dict(
        benchmark='hpo_controller', trials=args.trials,
        parallel=args.parallel, trial_seconds=args.seconds,
        completed=completed, wall_s=round(wall, 2), ideal_s=ideal,
        ratio=round(wall / ideal, 4), machine=machine())))


if __name__ == '__main__':
    main()
