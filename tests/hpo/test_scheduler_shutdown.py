"""Scheduler.shutdown: a controller that ends takes its trials with it."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from gml.search.schedulers import slurm
from gml.search.schedulers.local import LocalScheduler
from gml.search.store import TaskStore

from ..conftest import REPO
from .helpers import runs_log, write_config, write_trial

KILL_GRACE = 5.0  # seconds before a SIGTERMed trial gets SIGKILL


def _gone(pgid: int, within: float = 10.0) -> bool:
    """True once no process of group ``pgid`` is left."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_local_shutdown_kills_the_running_trial_and_its_children(tmp_path):
    scheduler = LocalScheduler(parallel_size=1)
    # the trial starts a child of its own, as a dataloader would
    job_id = scheduler.launch(1, 'sleep 60 & sleep 60; wait', str(tmp_path),
                              {}, None)
    pgid = json.loads(job_id)['pid']
    time.sleep(0.3)
    assert scheduler.poll([job_id], {job_id: str(tmp_path)})[job_id].running
    started = time.monotonic()
    scheduler.shutdown()
    assert _gone(pgid, within=1.0)  # SIGTERM does it, no SIGKILL wait
    assert time.monotonic() - started < KILL_GRACE
    assert not scheduler.children


def test_local_shutdown_also_kills_an_adopted_trial(tmp_path):
    first = LocalScheduler(parallel_size=1)
    job_id = first.launch(1, 'sleep 60', str(tmp_path), {}, None)
    pgid = json.loads(job_id)['pid']
    # the trial's parent (here: this process) reaps it when it ends
    threading.Thread(target=first.children[job_id].wait, daemon=True).start()
    time.sleep(0.3)
    second = LocalScheduler(parallel_size=1)  # as after search-run --resume
    assert second.attach(job_id, str(tmp_path))
    second.shutdown()
    assert _gone(pgid, within=1.0)
    first.shutdown()  # its trial is gone already: nothing to wait for


def test_slurm_shutdown_cancels_only_jobs_still_queued_or_running(
        tmp_path, monkeypatch):
    calls = []
    queue = {}

    def fake_run(args, timeout=30):
        calls.append(args)
        out = ''
        if args[0] == 'sbatch':
            out = f'{len(calls)}\n'
            queue[str(len(calls))] = 'RUNNING'
        elif args[0] == 'squeue':
            out = ''.join(f'{j} {s}\n' for j, s in queue.items())
        return subprocess.CompletedProcess(args, 0, out, '')

    monkeypatch.setattr(slurm, '_run', fake_run)
    monkeypatch.setattr(slurm.shutil, 'which', lambda name: '/bin/' + name)
    scheduler = slurm.SlurmScheduler(parallel_size=3)
    dirs = {}
    for trial in (1, 2, 3):
        trial_dir = tmp_path / str(trial)
        trial_dir.mkdir()
        job = scheduler.launch(trial, 'true', str(trial_dir), {}, None)
        dirs[job] = str(trial_dir)
    ended, killed, running = sorted(dirs)
    del queue[ended]  # ended with its exit status recorded
    (tmp_path / '1' / 'exit_code').write_text('0\n')
    scheduler.kill(killed)
    statuses = scheduler.poll([ended, running], dirs)
    assert not statuses[ended].running and statuses[running].running
    calls.clear()
    scheduler.shutdown()
    assert calls == [['scancel', running]]


@pytest.mark.parametrize('signum, code', [(signal.SIGINT, 130),
                                          (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_stops_the_controller_and_its_trials(
        tmp_path, signum, code):
    trial = write_trial(tmp_path)
    config = write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps=400 delay=0.1"
          search_args:
            lr: {{type: Categorical, data: [0.1, 0.2]}}
        scheduler: {{type: local, parallel_size: 2}}
        ''')
    # a shell runs background jobs (CI's, nohup's) with SIGINT ignored, and
    # children inherit that: give the controller Ctrl-C's default back, as
    # in a terminal
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while len([e for e in runs_log(tmp_path) if e[0] == 'start']) < 2 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    controller.send_signal(signum)
    out, err = controller.communicate(timeout=30)
    assert controller.returncode == code, err
    assert 'stopping 2 running trial(s)' in out
    store = TaskStore(str(tmp_path / 'search_tasks/search/task.db'),
                      readonly=True)
    try:
        pids = [json.loads(t.job_id)['pid'] for t in store.trials()]
    finally:
        store.close()
    assert len(pids) == 2 and all(_gone(pid) for pid in pids)
