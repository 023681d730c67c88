"""A search on a shared cluster's terms, on the real one-node Slurm: few
scheduler queries, a slow shared filesystem, requeues, cancellations, memory
limits, a node going down. Every trial's outcome is checked in numbers."""
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from gml.search.store import TaskStore

from ..conftest import REPO
from .helpers import runs_log, write_config, write_trial

SLURM_COMMANDS = ('sbatch', 'squeue', 'sacct', 'scontrol', 'scancel')
TASK = 'search_tasks/search'


def acc(lr):
    """The final reward of helpers.TRIAL."""
    return 100 * (1 - (lr - 0.1) ** 2)


def counting_path(tmp_path):
    """A PATH whose Slurm commands log each call to ``calls.log``."""
    bin_dir = tmp_path / 'counting-bin'
    bin_dir.mkdir()
    log = tmp_path / 'calls.log'
    for name in SLURM_COMMANDS:
        real = shutil.which(name)
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\necho "{name} $(date +%s.%N)" >> '
                           f'{log}\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
    return f'{bin_dir}{os.pathsep}{os.environ["PATH"]}'


def calls(tmp_path, name):
    path = tmp_path / 'calls.log'
    lines = path.read_text().splitlines() if path.exists() else []
    return [float(line.split()[1]) for line in lines
            if line.split()[0] == name]


def start_search(tmp_path, config, path=None):
    env = dict(os.environ, PATH=path or os.environ['PATH'])
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def finish(controller, timeout=240):
    out, _ = controller.communicate(timeout=timeout)
    assert controller.returncode == 0, out
    return out


def trials(tmp_path):
    store = TaskStore(str(tmp_path / TASK / 'task.db'), readonly=True)
    try:
        return store.trials(), {t.id: store.metric_series(t.id, 'acc')
                                for t in store.trials()}
    finally:
        store.close()


def slurm_config(tmp_path, template, args, extra=''):
    return write_config(tmp_path, f'''
        task:
          template: "{template}"
          search_args: {args}
        searcher: {{type: GridSearcher, reward_attribute: acc}}
        scheduler:
          type: slurm
          partition: debug
          parallel_size: 4
          cpus_per_trial: 1''' + '\n' + textwrap.indent(extra, ' ' * 10))


def wait_for(condition, timeout=90, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f'{what} not met within {timeout} s')


def job_of(tmp_path, trial_id):
    """The Slurm job id the controller recorded for a trial."""
    def recorded():
        try:
            rows, _ = trials(tmp_path)
        except (FileNotFoundError, sqlite3.OperationalError):  # not yet
            return None
        return next((t.job_id for t in rows
                     if t.id == trial_id and t.job_id), None)
    return wait_for(recorded, what=f'trial {trial_id} launched')


def starts(tmp_path, trial_id):
    return sum(1 for e, t, _ in runs_log(tmp_path)
               if e == 'start' and t == trial_id)


def release(job_id):
    """Make a requeued job eligible now (Slurm holds it for 2 minutes)."""
    def released():
        out = subprocess.run(['squeue', '-h', '-j', job_id, '-o', '%T %r'],
                             capture_output=True, text=True).stdout
        if 'BeginTime' in out:
            subprocess.run(['scontrol', 'update', f'jobid={job_id}',
                            'StartTime=now'], capture_output=True)
        return out.startswith('RUNNING')
    wait_for(released, what=f'job {job_id} released')


def test_four_trials_make_one_squeue_call_per_10_s(slurm, tmp_path):
    """Default settings: trials end through their exit files; squeue is
    asked at most once per query_interval (10 s) for all jobs at once."""
    trial = write_trial(tmp_path)
    lrs = (0.1, 0.2, 0.15, 0.05)
    config = slurm_config(
        tmp_path, f'{sys.executable} {trial} lr={{lr}} steps=60 delay=0.2',
        f'{{lr: {{type: Categorical, data: {list(lrs)}}}}}')
    started = time.time()
    finish(start_search(tmp_path, config, counting_path(tmp_path)))
    wall = time.time() - started
    rows, _ = trials(tmp_path)
    assert [t.state for t in rows] == ['COMPLETED'] * 4
    assert [t.reward for t in rows] == pytest.approx([acc(lr) for lr in lrs])
    squeue = calls(tmp_path, 'squeue')
    assert len(calls(tmp_path, 'sbatch')) == 4
    assert wall > 12  # the trials took a while: several intervals passed
    assert 1 <= len(squeue) <= 1 + wall / 10, (len(squeue), wall)
    gaps = [b - a for a, b in zip(squeue, squeue[1:])]
    assert all(g >= 9.5 for g in gaps), gaps
    assert calls(tmp_path, 'sacct') == [] and calls(tmp_path, 'scontrol') \
        == []


def test_a_late_exit_file_is_waited_for(slurm, tmp_path):
    """A shared filesystem shows the exit file late: Slurm says the job is
    done, the file appears 6 s later, the trial is COMPLETED with its
    metrics; for a file that never appears, Slurm's record decides after
    the grace."""
    trial = write_trial(tmp_path)
    # the trial's script cannot write its exit file while exit_code.tmp is
    # a folder: the test writes the file itself, late (or never)
    config = slurm_config(
        tmp_path, f'{sys.executable} {trial} lr={{lr}} steps=5 delay=0.1 && '
        'mkdir -p {work_dir}/../exit_code.tmp',
        '{lr: {type: Categorical, data: [0.1, 0.2]}}',
        'exit_file_grace: 15\nquery_interval: 1\n')
    controller = start_search(tmp_path, config)
    hidden = tmp_path / TASK / 'trials/1/exit_code.tmp'
    wait_for(hidden.is_dir, what='trial 1 ended')
    job = job_of(tmp_path, 1)
    wait_for(lambda: 'COMPLETED' in subprocess.run(
        ['squeue', '-h', '-t', 'all', '-j', job, '-o', '%T'],
        capture_output=True, text=True).stdout, what='Slurm saw the end')
    time.sleep(6)
    hidden.rmdir()
    (tmp_path / TASK / 'trials/1/exit_code').write_text('0\n')
    out = finish(controller)
    rows, series = trials(tmp_path)
    assert rows[0].state == 'COMPLETED', out
    assert rows[0].reward == pytest.approx(acc(0.1))
    assert [s for s, _ in series[1]] == [1, 2, 3, 4, 5]
    # never visible: after the grace, Slurm's record decides (exit 0)
    assert rows[1].state == 'COMPLETED'
    assert rows[1].reward == pytest.approx(acc(0.2))
    assert 'ended as COMPLETED but its exit file did not appear' in \
        rows[1].message
    assert 'within 15 s (scheduler.exit_file_grace), so its exit status ' \
        'is taken from Slurm (0)' in rows[1].message
    assert rows[1].duration >= 15


RESTART_TRIAL = '''
import os, sys, time
sys.path.insert(0, {repo!r})
from gml.search import report
restart = int(os.environ.get('SLURM_RESTART_COUNT', 0))
with open({log!r}, 'a') as f:
    f.write(f"start {{os.environ['GML_SEARCH_TRIAL_ID']}} {{time.time()}}\\n")
for step in range(1, 31):
    time.sleep(0.2)
    report(step=step, acc=step + 1000 * restart)
'''


def _restart_trial(tmp_path):
    path = tmp_path / 'restart_trial.py'
    path.write_text(RESTART_TRIAL.format(repo=REPO,
                                         log=str(tmp_path / 'runs.log')))
    return path


@pytest.mark.parametrize('cause', ['scontrol requeue', 'node down'])
def test_a_job_slurm_requeues_in_place_is_counted_and_restarts_clean(
        slurm, tmp_path, cause):
    """Slurm re-runs the same job (its own requeue): one trial, two
    attempts, and only the metrics of the run that finished."""
    trial = _restart_trial(tmp_path)
    config = slurm_config(tmp_path, f'{sys.executable} {trial} # {{tag}}',
                          '{tag: [a]}', 'query_interval: 1\n')
    controller = start_search(tmp_path, config)
    job = job_of(tmp_path, 1)
    wait_for(lambda: starts(tmp_path, 1) == 1, what='trial 1 started')
    time.sleep(1.5)
    node = socket.gethostname().split('.')[0]
    if cause == 'scontrol requeue':
        subprocess.run(['scontrol', 'requeue', job], check=True)
    else:
        set_node_state(node, 'down')
    try:
        release(job)
    finally:
        set_node_state(node, 'resume')
    finish(controller)
    (row, ), series = trials(tmp_path)
    assert row.state == 'COMPLETED' and row.job_id == job
    assert row.attempts == 2 and starts(tmp_path, 1) == 2
    assert row.reward == 1030
    assert series[1] == [(s, 1000 + s) for s in range(1, 31)]
    archived = tmp_path / TASK / 'trials/1/metrics.jsonl.1'
    assert archived.is_file()  # the cut-short run's metrics, kept aside


def set_node_state(node, state):
    """``scontrol update`` of the node (resuming an idle node is no
    error here: ReturnToService may have brought it back already)."""
    subprocess.run(['scontrol', 'update', f'nodename={node}',
                    f'state={state}', 'reason=gml-test'],
                   capture_output=True)


def test_a_job_lost_to_a_node_failure_is_submitted_again(slurm, tmp_path):
    """Without Slurm's requeue the job ends NODE_FAIL: gml submits the
    trial again with the same parameters (attempt 2, a new job)."""
    trial = write_trial(tmp_path)
    config = slurm_config(
        tmp_path, f'{sys.executable} {trial} lr={{lr}} steps=25 delay=0.2',
        '{lr: {type: Categorical, data: [0.2]}}',
        'query_interval: 1\nsbatch_args: [--no-requeue]\n')
    controller = start_search(tmp_path, config)
    first = job_of(tmp_path, 1)
    wait_for(lambda: starts(tmp_path, 1) == 1, what='trial 1 started')
    node = socket.gethostname().split('.')[0]
    set_node_state(node, 'down')
    try:
        wait_for(lambda: 'NODE_FAIL' in subprocess.run(
            ['squeue', '-h', '-t', 'all', '-j', first, '-o', '%T'],
            capture_output=True, text=True).stdout, what='NODE_FAIL')
    finally:
        set_node_state(node, 'resume')
    out = finish(controller)
    (row, ), series = trials(tmp_path)
    assert row.state == 'COMPLETED', out
    assert row.attempts == 2 and row.job_id != first
    assert row.reward == pytest.approx(acc(0.2))
    assert [s for s, _ in series[1]] == list(range(1, 26))
    assert f'slurm job {first} lost its node (NODE_FAIL); re-queued' in out


def test_a_job_over_its_memory_limit_fails_saying_so(slurm, tmp_path):
    config_out = subprocess.run(['scontrol', 'show', 'config'],
                                capture_output=True, text=True).stdout
    if 'task/cgroup' not in config_out:
        message = 'this Slurm does not enforce memory limits (task/none)'
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    hog = tmp_path / 'hog.py'
    hog.write_text('import sys, time\nx = bytearray(int(sys.argv[1]) << 20)\n'
                   'for i in range(0, len(x), 4096):\n    x[i] = 1\n'
                   'time.sleep(5)\n')
    config = slurm_config(tmp_path, f'{sys.executable} {hog} {{mb}}',
                          '{mb: 400}', 'query_interval: 1\nmem: 100M\n')
    finish(start_search(tmp_path, config))
    (row, ), _ = trials(tmp_path)
    assert row.state == 'FAILED'
    assert f'slurm job {row.job_id} ended as OUT_OF_MEMORY: it ran out of ' \
        'memory; raise scheduler.mem' in row.message, row.message


def test_a_job_array_runs_a_batch_from_one_sbatch(slurm, tmp_path):
    """``array: true``: the trials started together are one sbatch (a job
    array whose task ids are the trial ids); scancel of one element fails
    that trial alone."""
    trial = write_trial(tmp_path)
    lrs = (0.1, 0.2, 0.3, 0.05)
    config = slurm_config(
        tmp_path, f'{sys.executable} {trial} lr={{lr}} steps=20 delay=0.2',
        f'{{lr: {{type: Categorical, data: {list(lrs)}}}}}',
        'query_interval: 1\narray: true\n')
    controller = start_search(tmp_path, config, counting_path(tmp_path))
    victim = job_of(tmp_path, 4)
    wait_for(lambda: starts(tmp_path, 4) == 1, what='trial 4 started')
    subprocess.run(['scancel', victim], check=True)
    out = finish(controller)
    rows, _ = trials(tmp_path)
    array_id = rows[0].job_id.split('_')[0]
    assert [t.job_id for t in rows] == [f'{array_id}_{i}' for i in (1, 2, 3, 4)]
    assert len(calls(tmp_path, 'sbatch')) == 1
    assert [t.state for t in rows] == ['COMPLETED', 'COMPLETED', 'FAILED',
                                       'FAILED'], out
    assert [t.reward for t in rows[:2]] == pytest.approx([acc(0.1),
                                                          acc(0.2)])
    assert 'exit code 3' in rows[2].message  # lr 0.3 diverges
    assert f'slurm job {victim} ended as CANCELLED' in rows[3].message
