"""Searches on a real Slurm cluster (a one-node cluster on localhost in CI)."""
import os
import subprocess
import sys
import time

import pytest

from ..conftest import REPO
from .helpers import (crash_and_resume, runs_log, task_trials,
                      time_limited_trial, wait_for_starts, write_config,
                      write_trial)


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
    wait_for_starts(tmp_path, 3)
    assert {'gml-search-1', 'gml-search-2', 'gml-search-3'} <= \
        set(_job_names())
    victim = next(t for t in task_trials(tmp_path) if t.id == 3)
    subprocess.run(['scancel', victim.job_id], check=True)
    out, _ = controller.communicate(timeout=120)
    assert controller.returncode == 0, out
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED', 'FAILED', 'FAILED']
    assert trials[0].reward == 100.0
    assert 'exit code 3' in trials[1].message
    assert 'diverged' in trials[1].message
    assert f'slurm job {victim.job_id} ended as CANCELLED' in \
        trials[2].message


def test_slurm_time_limit_scancels_the_job(slurm, tmp_path):
    config = _config(tmp_path, lrs=(0.1, ), steps=1000, delay=0.1,
                     stop='stop_criterion: {time_limits_per_job: 3}')
    time_limited_trial(tmp_path, config)
    deadline = time.monotonic() + 30
    while 'gml-search-1' in _job_names() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 'gml-search-1' not in _job_names()


@pytest.mark.parametrize('array', [False, True], ids=['jobs', 'array'])
def test_slurm_resume_reattaches_running_jobs(slurm, tmp_path, array):
    config = _config(tmp_path, lrs=(0.05, 0.1), steps=25, delay=0.2,
                     stop=f'array: {str(array).lower()}')
    resumed, trials = crash_and_resume(tmp_path, config, 2)
    assert resumed.returncode == 0, resumed.stderr
    assert [t.state for t in trials] == ['COMPLETED', 'COMPLETED']
    assert [t.attempts for t in trials] == [1, 1]
    assert [t.reward for t in trials] == pytest.approx([99.75, 100.0])
    if array:
        array_id = trials[0].job_id.split('_')[0]
        assert [t.job_id for t in trials] == [f'{array_id}_1',
                                              f'{array_id}_2']
    starts = [t for e, t, _ in runs_log(tmp_path) if e == 'start']
    assert sorted(starts) == [1, 2]  # each job ran exactly once


@pytest.mark.parametrize('searcher', [
    'type: tpe, seed: 0, n_startup_trials: 2',
    'type: evolution, seed: 0'])
def test_model_based_searchers_with_asha_survive_kill_9_on_slurm(
        slurm, tmp_path, searcher):
    """TPE (BOHB-style, inside ASHA) and the aging evolution, as Slurm
    jobs, with the controller killed -9 after two starts and resumed: six
    distinct trials, each ending as the trial program and the rung rule
    say, with the reward the program reported last."""
    trial = write_trial(tmp_path)
    config = write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps=4 delay=0.6"
          search_args:
            lr: {{type: Real, lower: 0.01, upper: 0.3, log: true}}
        searcher: {{{searcher}, reward_attribute: acc}}
        scheduler:
          type: slurm
          partition: debug
          parallel_size: 2
          cpus_per_trial: 1
          query_interval: 1
          stop_criterion: {{max_tries: 6}}
          assessor: {{type: asha, max_resource: 4, reduction_factor: 2}}
        ''')
    resumed, trials = crash_and_resume(tmp_path, config, 2, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert len(trials) == 6
    lrs = [t.params['lr'] for t in trials]
    assert len(set(lrs)) == 6 and all(0.01 <= lr <= 0.3 for lr in lrs)
    for t in trials:
        full = 100 * (1 - (t.params['lr'] - 0.1) ** 2)
        if t.state == 'EARLY_STOPPED':  # judged at rung 1 or 2 of 4 steps
            assert any(t.reward == pytest.approx(full * k / 4)
                       for k in (1, 2, 3)), (t.params, t.reward)
        elif t.params['lr'] > 0.25:  # the program fails at its end
            assert t.state == 'FAILED', (t.params, t.state)
        else:
            assert t.state == 'COMPLETED', (t.params, t.state)
            assert t.reward == pytest.approx(full)
    assert sum(t.state == 'COMPLETED' for t in trials) >= 1
