"""How hard a search leans on the Slurm controller: scheduler calls made by
a search of a few Slurm trials, counted by wrappers around the Slurm
commands.

Usage: python benchmarks/slurm_polling.py [--trials 4] [--seconds 20]
           [--query-interval 10] [--repo PATH]

Runs `search-run` of --trials trials (each sleeps --seconds and reports one
metric) on the Slurm cluster this machine submits to, all at once, with the
Slurm commands on PATH replaced by wrappers that log each call. Prints one
JSON line: the wall time, the calls of each command, and squeue calls per
minute. --repo runs another checkout's bin/search-run (the code before a
change, side by side). Needs a Slurm cluster (`sudo bash
tools/start_local_slurm.sh` starts a one-node one).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _machine import machine
from _tools import REPO

COMMANDS = ('sbatch', 'squeue', 'sacct', 'scontrol', 'scancel')

TRIAL = '''import os, sys, time
sys.path.insert(0, {repo!r})
from gml.search import report
time.sleep(float(sys.argv[1]))
report(step=1, acc=100.0)
'''


def wrappers(folder):
    """A PATH with a logging wrapper in front of each Slurm command."""
    bin_dir = os.path.join(folder, 'bin')
    os.makedirs(bin_dir)
    log = os.path.join(folder, 'calls.log')
    for name in COMMANDS:
        real = shutil.which(name)
        if real is None:
            sys.exit(f'{name} is not on PATH: this needs a Slurm cluster')
        path = os.path.join(bin_dir, name)
        with open(path, 'w') as f:
            f.write(f'#!/bin/sh\necho {name} >> {log}\nexec {real} "$@"\n')
        os.chmod(path, 0o755)
    return bin_dir + os.pathsep + os.environ['PATH'], log


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trials', type=int, default=4)
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--query-interval', type=float, default=None,
                        help='scheduler.query_interval (default: not set, '
                        "the scheduler's default)")
    parser.add_argument('--repo', default=REPO,
                        help='the checkout whose bin/search-run runs')
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='gml-slurm-polling-')
    try:
        path, log = wrappers(folder)
        trial = os.path.join(folder, 'trial.py')
        with open(trial, 'w') as f:
            f.write(TRIAL.format(repo=args.repo))
        interval = '' if args.query_interval is None else \
            f'\n  query_interval: {args.query_interval}'
        config = os.path.join(folder, 'search.yaml')
        with open(config, 'w') as f:
            f.write(f'''task:
  template: "{sys.executable} {trial} {args.seconds} # {{i}}"
  search_args: {{i: {{type: Categorical, data: {list(range(args.trials))}}}}}
scheduler:
  type: slurm
  parallel_size: {args.trials}{interval}
''')
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, os.path.join(args.repo, 'bin', 'search-run'),
             config], cwd=folder, capture_output=True, text=True,
            env=dict(os.environ, PATH=path))
        wall = time.monotonic() - started
        if run.returncode != 0:
            sys.exit(run.stdout[-2000:] + run.stderr[-2000:])
        with open(log) as f:
            calls = f.read().split()
        counts = {name: calls.count(name) for name in COMMANDS}
        print(json.dumps(dict(
            benchmark='slurm_polling', trials=args.trials,
            trial_seconds=args.seconds, query_interval=args.query_interval,
            repo=args.repo, wall_s=round(wall, 1), calls=counts,
            squeue_per_minute=round(counts['squeue'] * 60 / wall, 2),
            squeue_per_10_s=round(counts['squeue'] * 10 / wall, 2),
            machine=machine())))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
