"""Searches on a real Slurm cluster (a one-node cluster on localhost in CI)."""
import os
import signal
import subprocess
import sys
import time

from gml.search.store import TaskStore

from ..conftest import REPO
from .helpers import runs_log, search, write_config, write_trial


def _config(tmp_path, lrs, steps, delay, stop=''):
    trial = write_trial(tmp_path)
    return write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps={steps} delay={delay}"
          search_args:
            lr: {{type: Categorical, data: {list(lrs)}}}
        searcher: {{type: GridSearcher, reward_attribute: acc}}
        scheduler:
          type: slurm
          partition: debug
          parallel_size: 3
          cpus_per_trial: 1
          query_interval: 1
          {stop}
        ''')


def _trials(tmp_path):
    store = TaskStore(str(tmp_path / 'search_tasks/search/task.db'),
                      readonly=True)
    try:
        return store.trials()
    finally:
        store.close()


def _wait_for_starts(tmp_path, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([e for e in runs_log(tmp_path) if e[0] == 'start']) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f'fewer than {count} trials started in {timeout} s')


def _job_names():
    out = subprocess.run(['squeue', '-h', '-o', '%j'], capture_output=True,
                         text=True)
    return out.stdout.split()


def test_slurm_trials_complete_fail_and_get_cancelled(slurm, tmp_path):
    config = _config(tmp_path, lrs=(0.1, 0.3, 0.2), steps=20, delay=0.2,
                     stop='stop_criterion: {time_limits_per_job: 120}')
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    _wait_for_starts(tmp_path, 3)
    assert {'gml-search-1', 'gml-search-2', 'gml-search-3'} <= \
        set(_job_names())
    victim = next(t for t in _trials(tmp_path) if t.id == 3)
    subprocess.run(['scancel', victim.job_id], check=True)
    out, _ = controller.communicate(timeout=120)
    assert controller.returncode == 0, out
    trials = _trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED', 'FAILED', 'FAILED']
    assert trials[0].reward == 100.0
    assert 'exit code 3' in trials[1].message
    assert 'diverged' in trials[1].message
    assert f'slurm job {victim.job_id} ended as CANCELLED' in \
        trials[2].message


def test_slurm_time_limit_scancels_the_job(slurm, tmp_path):
    config = _config(tmp_path, lrs=(0.1, ), steps=1000, delay=0.1,
                     stop='stop_criterion: {time_limits_per_job: 3}')
    run = search('search-run', str(config), cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    trial, = _trials(tmp_path)
    assert trial.state == 'FAILED'
    assert 'exceeded time_limits_per_job (3 s)' in trial.message
    deadline = time.monotonic() + 30
    while 'gml-search-1' in _job_names() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 'gml-search-1' not in _job_names()


def test_slurm_resume_reattaches_running_jobs(slurm, tmp_path):
    config = _config(tmp_path, lrs=(0.05, 0.1), steps=25, delay=0.2)
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    _wait_for_starts(tmp_path, 2)
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    assert [t.state for t in _trials(tmp_path)] == ['RUNNING', 'RUNNING']
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path,
                     timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    trials = _trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED', 'COMPLETED']
    assert [t.attempts for t in trials] == [1, 1]
    starts = [t for e, t, _ in runs_log(tmp_path) if e == 'start']
    assert sorted(starts) == [1, 2]  # each job ran exactly once
