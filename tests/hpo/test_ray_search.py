"""Searches on a real Ray cluster: a one-node head started on localhost."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from ..conftest import REPO, free_port
from .helpers import (crash_and_resume, grid_config, runs_log, search,
                      task_trials, time_limited_trial, wait_for_starts)

# Slow: 35-45 s with the head's start. Under pytest-xdist each worker that
# runs one of these tests starts a head of its own (xdist_group does not
# group tests with pytest 9 and xdist 3.8 here).
pytestmark = pytest.mark.slow


def _ray_missing():
    try:
        import ray.job_submission  # noqa: F401
    except ImportError as exc:
        return f'ray is not installed ({exc}); pip install "ray[default]"'
    return None


def _wait_for_dashboard(url, head, log, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + '/api/jobs/', timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    with open(log, errors='replace') as f:
        tail = f.read()[-3000:]
    pytest.fail(f'the Ray head did not answer at {url}:\n{tail}')


@pytest.fixture(scope='module')
def ray_head():
    """The dashboard address of a Ray head on this machine: 2 CPUs, a
    100 MB object store, free ports, its own temp dir. Without ray, skip
    (CI must have it: fail). The head runs with ``--block`` in its own
    session and is ended by signalling that process (``ray stop`` would
    stop every Ray process of the user on the machine)."""
    missing = _ray_missing()
    if missing:
        if os.environ.get('CI'):
            pytest.fail(missing + '; CI must run the Ray tests')
        pytest.skip(missing)
    # short: Ray's unix socket paths live under it
    temp = tempfile.mkdtemp(prefix='gmlray-', dir='/tmp')
    ports = [free_port() for _ in range(4)]
    log = os.path.join(temp, 'head.log')
    ray = os.path.join(os.path.dirname(sys.executable), 'ray')
    env = {k: v for k, v in os.environ.items()
           if k not in ('RAY_ADDRESS', 'RAY_API_SERVER_ADDRESS')}
    with open(log, 'w') as out:
        head = subprocess.Popen(
            [ray, 'start', '--head', '--block', '--num-cpus=2',
             '--include-dashboard=true', '--dashboard-host=127.0.0.1',
             '--disable-usage-stats', '--object-store-memory=100000000',
             f'--temp-dir={temp}', f'--port={ports[0]}',
             f'--dashboard-port={ports[1]}',
             f'--ray-client-server-port={ports[2]}',
             f'--dashboard-agent-listen-port={ports[3]}'],
            stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
    url = f'http://127.0.0.1:{ports[1]}'
    try:
        _wait_for_dashboard(url, head, log)
        yield url
    finally:
        head.send_signal(signal.SIGTERM)  # --block: Ray ends what it started
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def _config(tmp_path, address, lrs, steps, delay, stop='', cpus=0.5,
            parallel=3):
    return grid_config(tmp_path, lrs, steps, delay, f'''
        type: ray
        address: {address}
        parallel_size: {parallel}
        num_cpus_per_trial: {cpus}
        {stop}''')


def _ray_jobs(address):
    """{submission id: Ray job state} of every job on the cluster."""
    from ray.job_submission import JobSubmissionClient
    return {j.submission_id: str(j.status.value)
            for j in JobSubmissionClient(address).list_jobs()}


def _controller(config, tmp_path, **kwargs):
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         str(config)], cwd=tmp_path, **kwargs)


def test_ray_trials_complete_fail_and_get_stopped(ray_head, tmp_path):
    config = _config(tmp_path, ray_head, lrs=(0.1, 0.3, 0.2, 0.15),
                     steps=15, delay=0.2, parallel=4,
                     stop='stop_criterion: {time_limits_per_job: 120}')
    started = time.monotonic()
    controller = _controller(config, tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    wait_for_starts(tmp_path, 4)
    victim = next(t for t in task_trials(tmp_path) if t.id == 4)
    from ray.job_submission import JobSubmissionClient
    JobSubmissionClient(ray_head).stop_job(victim.job_id)  # `ray job stop`
    out, _ = controller.communicate(timeout=120)
    print(f'4 trials of 3 s on Ray: {time.monotonic() - started:.1f} s')
    assert controller.returncode == 0, out
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == \
        ['COMPLETED', 'FAILED', 'COMPLETED', 'FAILED']
    # acc = 100 (1 - (lr - 0.1)^2) at the last step
    assert trials[0].reward == pytest.approx(100.0)
    assert trials[2].reward == pytest.approx(100 * (1 - 0.1 ** 2))
    assert 'exit code 3' in trials[1].message
    assert 'diverged' in trials[1].message
    assert f'ray job {victim.job_id} ended as STOPPED' in trials[3].message
    assert all(t.job_id.startswith(f'gml-search-{t.id}-') for t in trials)
    jobs = _ray_jobs(ray_head)
    assert [jobs[t.job_id] for t in trials] == \
        ['SUCCEEDED', 'FAILED', 'SUCCEEDED', 'STOPPED']


def test_ray_resume_reattaches_running_jobs(ray_head, tmp_path):
    config = _config(tmp_path, ray_head, lrs=(0.05, 0.1), steps=25,
                     delay=0.2, cpus=1, parallel=2)
    resumed, trials = crash_and_resume(tmp_path, config, 2)
    assert resumed.returncode == 0, resumed.stderr
    assert [t.state for t in trials] == ['COMPLETED', 'COMPLETED']
    assert [t.attempts for t in trials] == [1, 1]
    assert trials[1].reward == pytest.approx(100.0)
    starts = [t for e, t, _ in runs_log(tmp_path) if e == 'start']
    assert sorted(starts) == [1, 2]  # each job ran exactly once


def test_search_ctl_stop_stops_the_jobs_of_a_dead_controller(ray_head,
                                                              tmp_path):
    config = _config(tmp_path, ray_head, lrs=(0.05, 0.1), steps=100,
                     delay=0.1, cpus=1, parallel=2)
    controller = _controller(config, tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_for_starts(tmp_path, 2)
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    stop = search('search-ctl', 'stop', '-t', 'search', cwd=tmp_path, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert 'killed 2 trial process(es)' in stop.stdout
    jobs = _ray_jobs(ray_head)
    assert [jobs[t.job_id] for t in task_trials(tmp_path)] == \
        ['STOPPED', 'STOPPED']


def _parent(pid):
    with open(f'/proc/{pid}/stat') as f:
        return int(f.read().rsplit(')', 1)[1].split()[1])


def test_ray_job_whose_supervisor_dies_is_run_again(ray_head, tmp_path):
    """Ray fails the job with JOB_SUPERVISOR_ACTOR_DIED (as when its node
    dies): the trial is lost, not FAILED, and runs again."""
    config = _config(tmp_path, ray_head, lrs=(0.1, ), steps=10, delay=0.2)
    controller = _controller(config, tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    wait_for_starts(tmp_path, 1)
    trial_dir = tmp_path / 'search_tasks/search/trials/1'
    with open(trial_dir / 'job_id') as f:
        inner = int(f.read())  # run.sh, run again by its first copy
    supervisor = _parent(_parent(inner))  # Ray's JobSupervisor actor
    os.kill(supervisor, signal.SIGKILL)
    out, _ = controller.communicate(timeout=120)
    assert controller.returncode == 0, out
    trial, = task_trials(tmp_path)
    assert trial.state == 'COMPLETED'
    assert trial.attempts == 2
    assert trial.reward == pytest.approx(100.0)
    assert 'JOB_SUPERVISOR_ACTOR_DIED' in out and 're-queued' in out
    assert [e for e, t, _ in runs_log(tmp_path)].count('start') == 2


def test_ray_time_limit_stops_the_job(ray_head, tmp_path):
    config = _config(tmp_path, ray_head, lrs=(0.1, ), steps=1000, delay=0.1,
                     stop='stop_criterion: {time_limits_per_job: 3}')
    trial = time_limited_trial(tmp_path, config)
    # shutdown waits for Ray to report the stopped job ended
    assert _ray_jobs(ray_head)[trial.job_id] == 'STOPPED'


def _processes_with(mark):
    """Pids of the processes on this machine whose environment has
    ``GML_TEST_MARK=mark`` (every process a job started inherits it)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/environ', 'rb') as f:
                if f'GML_TEST_MARK={mark}'.encode() in f.read().split(b'\0'):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def _none_left(mark, within=10.0):
    deadline = time.monotonic() + within
    while _processes_with(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _processes_with(mark)


def test_ray_find_and_shutdown_of_an_adopted_job(ray_head, tmp_path):
    """A job launched just before a crash is found by its trial folder;
    the scheduler that adopted it stops it, and all it started, at
    shutdown."""
    from gml.search.schedulers.ray import RayScheduler
    trial_dir = str(tmp_path / 'trial')
    os.makedirs(trial_dir)
    first = RayScheduler(address=ray_head, task_name='adopt',
                         num_cpus_per_trial=0)
    mark = {'GML_TEST_MARK': trial_dir}
    job_id = first.launch(7, 'sleep 60 & sleep 60; wait', trial_dir, mark,
                          None)
    second = RayScheduler(address=ray_head, task_name='adopt',
                          num_cpus_per_trial=0)
    assert second.find(7, trial_dir) == job_id
    assert second.find(8, trial_dir) is None
    assert second.attach(job_id, trial_dir)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(trial_dir, 'job_id')):
        assert time.monotonic() < deadline, 'the job did not start'
        time.sleep(0.1)
    second.shutdown()
    assert _ray_jobs(ray_head)[job_id] == 'STOPPED'
    assert _none_left(trial_dir, within=5)
    assert not os.path.exists(os.path.join(trial_dir, 'exit_code'))
    # a stopped job (an earlier attempt) is not a launch to adopt
    assert RayScheduler(address=ray_head, task_name='adopt').find(
        7, trial_dir) is None


def test_ray_kill_as_the_job_starts_leaves_nothing_running(ray_head,
                                                           tmp_path):
    """Ray signals only the processes it finds under a job when it stops
    it; run.sh takes the rest of the job's process group down with it."""
    from gml.search.schedulers.ray import RayScheduler
    scheduler = RayScheduler(address=ray_head, task_name='race',
                             num_cpus_per_trial=0)
    dirs = []
    for trial_id, delay in enumerate((0, 0.2, 0.5, 1.0, 1.5), 1):
        trial_dir = str(tmp_path / f'trial{trial_id}')
        os.makedirs(trial_dir)
        dirs.append(trial_dir)
        job_id = scheduler.launch(trial_id, 'sleep 60', trial_dir,
                                  {'GML_TEST_MARK': trial_dir}, None)
        time.sleep(delay)
        scheduler.kill(job_id)
    scheduler.shutdown()  # waits for Ray to report the jobs stopped
    time.sleep(1)  # a process forked as the job stopped would show by now
    assert all(_none_left(d) for d in dirs)


def test_ray_bad_address_is_one_line(tmp_path):
    if _ray_missing():
        pytest.skip(_ray_missing())
    address = f'http://127.0.0.1:{free_port()}'
    config = _config(tmp_path, address, lrs=(0.1, ), steps=1, delay=0)
    run = search('search-run', str(config), cwd=tmp_path, timeout=60)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert 'scheduler.address' in lines[0] and address in lines[0]
    assert not (tmp_path / 'search_tasks' / 'search').exists()


def test_ray_unknown_key_is_one_line(tmp_path):
    config = _config(tmp_path, 'http://127.0.0.1:8265', lrs=(0.1, ),
                     steps=1, delay=0, stop='partition: debug')
    run = search('search-run', str(config), cwd=tmp_path, timeout=60)
    assert run.returncode != 0
    line, = run.stderr.strip().splitlines()
    assert 'scheduler: RayScheduler does not take partition' in line
    assert 'num_cpus_per_trial' in line


def test_ray_not_installed_says_how_to_install(tmp_path):
    code = ('import sys; sys.modules["ray"] = None\n'
            'from gml.errors import ConfigError\n'
            'from gml.search.schedulers.ray import RayScheduler\n'
            'try:\n    RayScheduler()\n'
            'except ConfigError as exc:\n    print(exc)\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == \
        'scheduler.type: ray needs Ray\'s job client: pip install ' \
        '"ray[default]"', out.stderr


def test_gml_and_search_ctl_do_not_import_ray():
    code = ('import sys, gml, gml.search.schedulers, gml.search.cli.ctl\n'
            'print("ray" in sys.modules)\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == 'False', out.stderr
