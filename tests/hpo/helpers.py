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


def task_trials(tmp_path, name='search'):
    """The trials of task ``name`` in ``tmp_path/search_tasks``, read from
    its store."""
    from gml.search.store import TaskStore
    store = TaskStore(str(tmp_path / 'search_tasks' / name / 'task.db'),
                      readonly=True)
    try:
        return store.trials()
    finally:
        store.close()


def wait_for_starts(tmp_path, count, timeout=60):
    """Wait until the trial program has logged ``count`` starts."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([e for e in runs_log(tmp_path) if e[0] == 'start']) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f'fewer than {count} trials started in {timeout} s')


def crash_and_resume(tmp_path, config, count, timeout=120):
    """Start ``search-run config``, ``kill -9`` it once ``count`` trials
    have started (they must be RUNNING in the store), then run
    ``search-run --resume search``; return that run and the trials."""
    import signal
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    wait_for_starts(tmp_path, count)
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    assert [t.state for t in task_trials(tmp_path)] == ['RUNNING'] * count
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path,
                     timeout=timeout)
    return resumed, task_trials(tmp_path)


def grid_config(tmp_path, lrs, steps, delay, scheduler):
    """A grid search over ``lrs`` of the trial program (``steps`` reports,
    ``delay`` s apart), reward ``acc``; ``scheduler`` holds the keys of the
    ``scheduler:`` block, one a line."""
    trial = write_trial(tmp_path)
    keys = textwrap.indent(textwrap.dedent(scheduler).strip(), '  ')
    return write_config(tmp_path, (
        'task:\n'
        f'  template: "{sys.executable} {trial} lr={{lr}} steps={steps} '
        f'delay={delay}"\n'
        '  search_args:\n'
        f'    lr: {{type: Categorical, data: {list(lrs)}}}\n'
        'searcher: {type: GridSearcher, reward_attribute: acc}\n'
        f'scheduler:\n{keys}\n'))


def time_limited_trial(tmp_path, config):
    """Run a one-trial search whose trial outlives its 3 s
    ``time_limits_per_job``; check it failed for that and return it."""
    run = search('search-run', str(config), cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    trial, = task_trials(tmp_path)
    assert trial.state == 'FAILED'
    assert 'exceeded time_limits_per_job (3 s)' in trial.message
    return trial
