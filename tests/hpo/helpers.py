"""Small trial programs and a runner for the search commands."""
import os
import subprocess
import sys
import textwrap

from ..conftest import REPO

TRIAL = textwrap.dedent('''
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from gml.search import report
    args = dict(a.split('=', 1) for a in sys.argv[1:])
    lr, steps = float(args['lr']), int(args.get('steps', 3))
    delay = float(args.get('delay', 0.05))
    with open(os.path.join({log_dir!r}, 'runs.log'), 'a') as f:
        f.write(f"start {{os.environ['GML_SEARCH_TRIAL_ID']}} {{time.time()}}\\n")
    for step in range(1, steps + 1):
        time.sleep(delay)
        report(step=step, acc=100 * (1 - (lr - 0.1) ** 2) * step / steps)
    with open(os.path.join({log_dir!r}, 'runs.log'), 'a') as f:
        f.write(f"end {{os.environ['GML_SEARCH_TRIAL_ID']}} {{time.time()}}\\n")
    if lr > 0.25:
        print('diverged: loss is nan', flush=True)
        sys.exit(3)
''')


def write_trial(tmp_path):
    """A trial reporting acc = 100 (1 - (lr - 0.1)^2) x step/steps."""
    path = tmp_path / 'trial.py'
    path.write_text(TRIAL.format(repo=REPO, log_dir=str(tmp_path)))
    return path


def write_config(tmp_path, text, name='search.yaml'):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def search(*args, cwd, timeout=300):
    """Run a search command (bin/ wrapper) in ``cwd``."""
    command, rest = args[0], args[1:]
    script = os.path.join(REPO, 'bin', command)
    return subprocess.run([sys.executable, script, *rest], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def runs_log(tmp_path):
    """[(event, trial id, time)] written by the trial program."""
    path = tmp_path / 'runs.log'
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        event, trial, when = line.split()
        rows.append((event, int(trial), float(when)))
    return rows
