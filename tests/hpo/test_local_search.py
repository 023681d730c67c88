"""Whole searches on the local scheduler, driven through the commands."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gml.search.store import TaskStore

from ..conftest import REPO
from .helpers import (runs_log, search, task_trials, write_config,
                      write_trial)


def _config(tmp_path, searcher='GridSearcher', parallel=2, steps=(3, ),
            lrs=(0.05, 0.1, 0.2, 0.3), extra_sched='', delay=0.05,
            extra_task=''):
    trial = write_trial(tmp_path)
    return write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps={{steps}} delay={delay}{extra_task}"
          search_args:
            lr: {{type: Categorical, data: {list(lrs)}}}
            steps: {{type: Categorical, data: {list(steps)}}}
        searcher: {{type: {searcher}, reward_attribute: acc}}
        scheduler:
          type: local
          parallel_size: {parallel}
          {extra_sched}
        ''')


def _max_concurrency(events):
    running, peak = 0, 0
    for event, _, _ in sorted(events, key=lambda e: (e[2], e[0] == 'start')):
        running += 1 if event == 'start' else -1
        peak = max(peak, running)
    return peak


def test_grid_search_runs_every_point_and_records_failures(tmp_path):
    config = _config(tmp_path)
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    trials = task_trials(tmp_path)
    assert [t.params['lr'] for t in trials] == [0.05, 0.1, 0.2, 0.3]
    states = [t.state for t in trials]
    assert states == ['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED']
    # acc at the last step = 100 (1 - (lr - 0.1)^2)
    assert trials[0].reward == pytest.approx(99.75)
    assert trials[1].reward == pytest.approx(100.0)
    assert trials[3].reward is None
    assert 'exit code 3' in trials[3].message
    assert 'diverged: loss is nan' in trials[3].message  # the log's tail
    assert "best trial 2: acc = 100" in run.stdout
    assert _max_concurrency(runs_log(tmp_path)) == 2
    # second start with the same name refuses instead of overwriting
    again = search('search-run', str(config), cwd=tmp_path)
    assert again.returncode == 2
    assert "task 'search' already exists" in again.stderr
    assert len(task_trials(tmp_path)) == 4


def test_ctl_show_list_log_export_plot(tmp_path):
    config = _config(tmp_path, lrs=(0.1, 0.3))
    assert search('search-run', str(config), cwd=tmp_path).returncode == 0
    show = search('search-ctl', 'show', '-t', 'search', cwd=tmp_path)
    assert show.returncode == 0
    assert 'state:     DONE' in show.stdout
    assert 'best: trial 1, acc = 100' in show.stdout
    assert 'trial 2 failed: exit code 3' in show.stdout
    listing = search('search-ctl', 'list', cwd=tmp_path)
    assert listing.stdout.splitlines()[2].split()[:4] == \
        ['search', 'DONE', '2', '100']
    log = search('search-ctl', 'log', '-t', 'search', '-i', '2', cwd=tmp_path)
    assert 'diverged' in log.stdout
    out = tmp_path / 'trials.csv'
    exp = search('search-ctl', 'export', '-t', 'search', '--format', 'csv',
                 '-o', str(out), cwd=tmp_path)
    assert exp.returncode == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r['trial'], r['state'], r['param.lr']) for r in rows] == \
        [('1', 'COMPLETED', '0.1'), ('2', 'FAILED', '0.3')]
    js = search('search-ctl', 'export', '-t', 'search', '--format', 'json',
                '--metrics', cwd=tmp_path)
    data = json.loads(js.stdout)
    assert data['trials'][0]['metrics']['acc'] == \
        [[1, pytest.approx(100 / 3)], [2, pytest.approx(200 / 3)],
         [3, pytest.approx(100.0)]]
    board = tmp_path / 'board'
    tb = search('search-ctl', 'export', '-t', 'search', '--format',
                'tensorboard', '-o', str(board), cwd=tmp_path)
    assert tb.returncode == 0, tb.stderr
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = EventAccumulator(str(board / 'trial_1')).Reload()
    scalars = [(e.step, e.value) for e in events.Scalars('acc')]
    assert scalars == [(1, pytest.approx(100 / 3)), (2, pytest.approx(200 / 3)),
                       (3, pytest.approx(100.0))]
    png = tmp_path / 'p.png'
    plot = search('search-ctl', 'plot', '-t', 'search', '-o', str(png),
                  cwd=tmp_path)
    assert plot.returncode == 0 and png.read_bytes()[:4] == b'\x89PNG'
    missing = search('search-ctl', 'show', '-t', 'nope', cwd=tmp_path)
    assert missing.returncode == 2 and "no task 'nope'" in missing.stderr


def test_search_ctl_does_not_import_torch(tmp_path):
    code = ('import sys; sys.argv=["search-ctl","list"]\n'
            'from gml.search.cli import ctl\n'
            'try:\n    ctl.main(["list"])\nfinally:\n'
            '    print("TORCH" if "torch" in sys.modules else "NO-TORCH")')
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                         capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert out.stdout.strip().endswith('NO-TORCH'), out.stderr


def test_time_limit_per_job_kills_the_whole_process_tree(tmp_path):
    # the trial starts a grandchild that would outlive a plain kill
    sleeper = tmp_path / 'sleeper.py'
    sleeper.write_text('import subprocess, sys, time\n'
                       'p = subprocess.Popen([sys.executable, "-c", '
                       '"import time; time.sleep(60)"])\n'
                       'open(sys.argv[1], "w").write(str(p.pid))\n'
                       'time.sleep(60)\n')
    config = write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {sleeper} {tmp_path}/child{{i}}.pid"
          search_args:
            i: {{type: Categorical, data: [1]}}
        scheduler:
          stop_criterion: {{time_limits_per_job: 1.5}}
        ''')
    start = time.monotonic()
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - start < 20
    trial, = task_trials(tmp_path)
    assert trial.state == 'FAILED'
    assert 'exceeded time_limits_per_job (1.5 s)' in trial.message
    child = int((tmp_path / 'child1.pid').read_text())
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail('the grandchild process survived the kill')


def test_max_reward_stops_the_task(tmp_path):
    config = _config(tmp_path, lrs=(0.1, 0.05, 0.2), parallel=1,
                     extra_sched='stop_criterion: {max_reward: 99.9}')
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 0
    assert [t.state for t in task_trials(tmp_path)] == ['COMPLETED']
    assert 'max_reward 99.9 reached by trial 1' in run.stdout


def test_kill_9_then_resume_loses_nothing_and_runs_nothing_twice(tmp_path):
    config = _config(tmp_path, lrs=(0.05, 0.1, 0.15, 0.2, 0.25, 0.3),
                     steps=(20, ), parallel=2, delay=0.1,
                     extra_sched='stop_criterion: {max_tries: 5}')
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until trial 3 has started
        if any(e == 'start' and t == 3 for e, t, _ in runs_log(tmp_path)):
            break
        time.sleep(0.05)
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    before = {t.id: t.state for t in task_trials(tmp_path)}
    assert 'RUNNING' in before.values()
    show = search('search-ctl', 'show', '-t', 'search', cwd=tmp_path)
    assert 'state:     INTERRUPTED' in show.stdout
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = task_trials(tmp_path)
    assert [t.id for t in trials] == [1, 2, 3, 4, 5]  # max_tries held
    assert [t.params['lr'] for t in trials] == [0.05, 0.1, 0.15, 0.2, 0.25]
    assert all(t.state == 'COMPLETED' for t in trials)
    events = runs_log(tmp_path)
    started = [t for e, t, _ in events if e == 'start']
    # re-attached trials were not started a second time
    assert sorted(started) == [1, 2, 3, 4, 5]
    assert _max_concurrency(events) <= 2


def test_resume_requeues_trials_whose_process_is_gone(tmp_path):
    config = _config(tmp_path, lrs=(0.05, 0.1, 0.15), steps=(30, ),
                     parallel=3, delay=0.1)
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len([e for e in runs_log(tmp_path) if e[0] == 'start']) < 3 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    store = TaskStore(str(tmp_path / 'search_tasks/search/task.db'),
                      readonly=True)
    victim = json.loads(store.trial(2).job_id)['pid']
    store.close()
    os.killpg(victim, signal.SIGKILL)  # as if the machine had rebooted
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED'] * 3
    assert [t.attempts for t in trials] == [1, 2, 1]
    assert trials[1].params == dict(lr=0.1, steps=30)


def test_ctl_stop_ends_a_running_task(tmp_path):
    config = _config(tmp_path, lrs=(0.05, 0.1, 0.15, 0.2), steps=(200, ),
                     parallel=2, delay=0.1)
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len([e for e in runs_log(tmp_path) if e[0] == 'start']) < 2 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    stop = search('search-ctl', 'stop', '-t', 'search', cwd=tmp_path)
    assert stop.returncode == 0 and 'stopped' in stop.stdout
    out, _ = controller.communicate(timeout=30)
    assert controller.returncode == 0
    assert "STOPPED (stopped by search-ctl stop)" in out
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['STOPPED', 'STOPPED']
    assert not any(e == 'end' for e, _, _ in runs_log(tmp_path))
