"""Train the digits baseline end to end and report time and accuracy.

Usage: python benchmarks/foundation_baseline.py [--repeats 1] [--config C]
Prints one JSON line: wall seconds per run (process start to exit, as a user
waits for it), final validation accuracy, and the machine.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default='configs/baseline/digits_resnet.py')
    parser.add_argument('--repeats', type=int, default=1)
    args = parser.parse_args()
    walls, accs = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as work_dir:
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, 'tools/train.py', args.config, '--work-dir',
                 work_dir], cwd=REPO, capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
        if run.returncode != 0:
            sys.exit(run.stderr[-2000:])
        accs.append(float(re.search(r'accuracy/top1=([0-9.]+)',
                                    run.stdout).group(1)))
    print(json.dumps(dict(benchmark='foundation_baseline', config=args.config,
                          wall_s=[round(w, 1) for w in walls],
                          val_top1=accs, machine=machine())))


if __name__ == '__main__':
    main()
