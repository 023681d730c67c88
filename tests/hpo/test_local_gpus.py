"""GPU sharing on the local scheduler: every trial gets its own
CUDA_VISIBLE_DEVICES out of ``scheduler.gpus``. The ids are fake (nothing
here touches a GPU); real searches run the trial program as a user's
command would, through ``search-run``, and the program logs what it saw."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gml.errors import ConfigError
from gml.search.schedulers.local import LocalScheduler

from ..conftest import REPO
from .gpu_trials import (clashes, gpu_search_config, peak_concurrency,
                         read_runs, started)
from .helpers import search, task_trials


def _local(gpus='[0, 1, 2]', per_trial=1, parallel=3):
    return (f'type: local\nparallel_size: {parallel}\n'
            f'gpus_per_trial: {per_trial}\n' +
            (f'gpus: {gpus}\n' if gpus is not None else ''))


def _completed(tmp_path, count):
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED'] * count, \
        [(t.id, t.state, t.message) for t in trials]
    return trials


def test_trials_running_together_hold_distinct_gpus_and_reuse_them(tmp_path):
    config = gpu_search_config(tmp_path, 7, _local())
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    _completed(tmp_path, 7)
    runs = read_runs(tmp_path)
    assert sorted(r.trial for r in runs) == list(range(1, 8))
    assert all(len(r.gpus) == 1 and r.gpus[0] in '012' for r in runs), runs
    assert clashes(runs) == []
    assert peak_concurrency(runs) == 3
    # 7 trials on 3 GPUs: every id serves several trials, one after another
    assert sorted({r.gpus[0] for r in runs}) == ['0', '1', '2']
    reused = [(a.trial, b.trial) for a in runs for b in runs
              if a.gpus == b.gpus and a.end <= b.start]
    assert len(reused) >= 4, runs


def test_two_gpus_per_trial_out_of_three_run_one_trial_at_a_time(tmp_path):
    config = gpu_search_config(tmp_path, 3, _local(per_trial=2))
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    _completed(tmp_path, 3)
    runs = read_runs(tmp_path)
    assert peak_concurrency(runs) == 1
    for r in runs:
        assert len(r.gpus) == 2 and len(set(r.gpus)) == 2, r
        assert set(r.gpus) <= {'0', '1', '2'}, r


def test_without_gpus_the_visible_devices_are_shared_out(tmp_path):
    """No ``gpus`` key: the controller's CUDA_VISIBLE_DEVICES is the pool."""
    config = gpu_search_config(tmp_path, 4, _local(gpus=None, parallel=4))
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='5,7')
    run = subprocess.run([sys.executable, os.path.join(REPO, 'bin',
                                                       'search-run'),
                          str(config)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    runs = read_runs(tmp_path)
    assert sorted(r.gpus[0] for r in runs) == ['5', '5', '7', '7']
    assert peak_concurrency(runs) == 2 and clashes(runs) == []


@pytest.mark.parametrize('scheduler, message', [
    (_local(gpus='[0]', per_trial=2),
     'scheduler.gpus_per_trial: 2 GPU(s) per trial, but only 1 to share out '
     '(0; scheduler.gpus or CUDA_VISIBLE_DEVICES sets them)'),
    (_local(gpus='[0, 1, 0]'),
     'scheduler.gpus: expected distinct GPU ids, found 0 twice'),
    (_local(gpus='3'),
     'scheduler.gpus: expected a list of GPU ids, found 3'),
], ids=['too-few', 'twice', 'not-a-list'])
def test_a_gpu_mistake_is_one_line_and_runs_nothing(tmp_path, scheduler,
                                                    message):
    config = gpu_search_config(tmp_path, 2, scheduler)
    run = search('search-run', str(config), cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f'search-run: error: {message}'], run.stderr
    assert started(tmp_path) == 0


def test_gpus_config_key_forms():
    """The ids as a list (ints or strings) or one comma-separated string,
    as CUDA_VISIBLE_DEVICES writes them."""
    assert LocalScheduler(gpus_per_trial=1, gpus=[0, 1]).free_gpus == \
        ['0', '1']
    assert LocalScheduler(gpus_per_trial=1, gpus='2, 3').free_gpus == \
        ['2', '3']
    assert LocalScheduler(gpus_per_trial=1,
                          gpus=['GPU-1a', 'MIG-2b']).free_gpus == \
        ['GPU-1a', 'MIG-2b']
    with pytest.raises(ConfigError, match=r"found True"):
        LocalScheduler(gpus_per_trial=1, gpus=[True])
    with pytest.raises(ConfigError, match=r"found '0 1'"):
        LocalScheduler(gpus_per_trial=1, gpus=['0 1'])


def _kill_controller_after(tmp_path, config, count):
    """Start search-run on ``config``; ``kill -9`` it once ``count`` trials
    have started."""
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while started(tmp_path) < count:
        assert time.monotonic() < deadline, 'the trials did not start'
        assert controller.poll() is None, 'the controller ended early'
        time.sleep(0.05)
    controller.send_signal(signal.SIGKILL)
    controller.wait()


def _wait_until_ended(tmp_path, count, timeout=60):
    deadline = time.monotonic() + timeout
    while sum(r.end != float('inf') for r in read_runs(tmp_path)) < count:
        assert time.monotonic() < deadline, 'the orphaned trials did not end'
        time.sleep(0.05)


@pytest.mark.parametrize('orphans_end_first', [False, True],
                         ids=['adopted-running', 'ended-while-down'])
def test_resume_after_kill_9_keeps_the_gpus_disjoint(tmp_path,
                                                     orphans_end_first):
    """The controller dies with 3 trials holding GPUs 0, 1, 2. Resumed while
    they still run, it adopts them and their GPUs; resumed after they ended
    on their own, it gets each GPU back once: either way no two trials share
    a GPU at the same time, and all 9 complete."""
    config = gpu_search_config(tmp_path, 9, _local(), slow=3,
                               long=2.0 if orphans_end_first else 5.0)
    _kill_controller_after(tmp_path, config, 3)
    if orphans_end_first:
        _wait_until_ended(tmp_path, 3)
    assert [t.state for t in task_trials(tmp_path)] == ['RUNNING'] * 3
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    _completed(tmp_path, 9)
    runs = read_runs(tmp_path)
    assert sorted(r.trial for r in runs) == list(range(1, 10))  # none rerun
    first = [r for r in runs if r.trial <= 3]
    assert sorted(r.gpus[0] for r in first) == ['0', '1', '2']
    assert clashes(runs) == [], clashes(runs)
    assert peak_concurrency(runs) == 3


def test_a_launch_found_after_a_restart_keeps_its_gpus(tmp_path):
    """A controller that died between starting a trial and recording it:
    the next one finds the trial's process and takes its GPU (read back from
    the trial's run.sh) out of the pool."""
    first = LocalScheduler(gpus_per_trial=1, gpus=[0, 1])
    trial_dir = tmp_path / '1'
    trial_dir.mkdir()
    first.launch(1, 'sleep 30', str(trial_dir), {}, None)
    deadline = time.monotonic() + 10
    while not (trial_dir / 'job_id').exists():
        assert time.monotonic() < deadline, 'run.sh did not start'
        time.sleep(0.02)
    second = LocalScheduler(parallel_size=2, gpus_per_trial=1, gpus=[0, 1])
    try:
        found = second.find(1, str(trial_dir))
        assert json.loads(found)['gpus'] == ['0']
        assert second.free_gpus == ['1'] and second.capacity() == 2
    finally:
        second.shutdown()
        first.shutdown()
