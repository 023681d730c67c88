"""Running the repository's tools from a benchmark script."""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool(script, *args, threads=None):
    """Run tools/``script`` with ``args``; return its stdout (exit with its
    stderr on failure). ``threads`` sets OMP_NUM_THREADS for it."""
    env = dict(os.environ)
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    run = subprocess.run([sys.executable, f'tools/{script}', *args],
                         cwd=REPO, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f'{script} {" ".join(args)} failed:\n{run.stderr[-3000:]}')
    return run.stdout


def accuracy(stdout):
    """The top-1 accuracy tools/train.py or tools/test.py printed last."""
    return float(re.findall(r'accuracy/top1=([0-9.]+)', stdout)[-1])


def train(config, seed, work_dir, *options, threads=None):
    """Train ``config`` with ``seed``; return the final validation top-1."""
    return accuracy(tool('train.py', config, '--work-dir', work_dir,
                         '--cfg-options', f'randomness.seed={seed}',
                         *options, threads=threads))
