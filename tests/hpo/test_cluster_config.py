"""What a search on a shared machine needs besides the scheduler: the
assessor follows the searcher's direction, task names do not collide, a
controller runs detached and search-ctl says whether it is alive, and a
Slurm job's script carries its options and environment."""
import os
import signal
import subprocess
import sys
import time

import pytest

from gml.errors import ConfigError
from gml.search.config import load_search_config, parse_config
from gml.search.controller import build_components
from gml.search.store import TaskStore

from ..conftest import REPO
from .helpers import search, write_config, write_trial


def _raw(searcher_mode, assessor_mode=None):
    assessor = dict(type='MedianStopAssessor', n_startup_trials=2)
    if assessor_mode is not None:
        assessor['optimize_mode'] = assessor_mode
    return dict(task=dict(template='echo {lr}', search_args=dict(lr=0.1)),
                searcher=dict(type='random', optimize_mode=searcher_mode),
                scheduler=dict(assessor=assessor))


@pytest.mark.parametrize('written', [None, 'min', 'minimize'])
def test_the_assessor_judges_in_the_searchers_direction(written):
    """searcher minimize, assessor without (or with the same) mode: a
    falling loss is kept and a rising one stopped, as by hand: completed
    losses average 0.7 and 0.8 at step 2; 0.55 beats the median, 0.95 not."""
    cfg = parse_config(_raw('min', written))
    assert cfg.assessor_cfg['optimize_mode'] == 'minimize'
    _, assessor, _ = build_components(cfg, 'task')
    assessor.trial_end(1, [1.0, 0.4], completed=True)
    assessor.trial_end(2, [1.0, 0.6], completed=True)
    assert assessor.median_at(2) == (0.8, 2)  # the worse of the two middles
    assert assessor.assess(3, [1.0, 0.1]) is True   # running average 0.55
    assert assessor.assess(4, [1.0, 0.9]) is False  # running average 0.95


def test_a_contradicting_assessor_mode_is_one_line():
    with pytest.raises(ConfigError) as err:
        parse_config(_raw('minimize', 'maximize'))
    assert str(err.value) == (
        "scheduler.assessor.optimize_mode: 'maximize' contradicts "
        "searcher.optimize_mode (minimize); the assessor judges trials in the "
        "searcher's direction: leave the key out or give the same mode")


def test_shipped_configs_get_their_folders_name_and_a_clash_says_how_to_go_on(
        tmp_path):
    trial = write_trial(tmp_path)
    text = f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps=1 delay=0"
          search_args: {{lr: {{type: Categorical, data: [0.1]}}}}
        '''
    for folder in ('grid', 'random'):
        (tmp_path / folder).mkdir()
        write_config(tmp_path / folder, text, 'search_config.yaml')
        run = search('search-run', f'{folder}/search_config.yaml',
                     cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert (tmp_path / 'search_tasks' / folder / 'task.db').is_file()
    (tmp_path / 'other' / 'grid').mkdir(parents=True)
    write_config(tmp_path / 'other' / 'grid', text, 'search_config.yaml')
    for config, origin in (
            ('grid/search_config.yaml', 'from this config'),
            ('other/grid/search_config.yaml',
             f'from {tmp_path}/grid/search_config.yaml')):
        run = search('search-run', config, cwd=tmp_path)
        assert run.returncode == 2
        assert run.stderr.strip() == (
            f"search-run: error: task 'grid' already exists in "
            f"search_tasks/grid ({origin}); continue it with `search-run "
            "--resume grid`, or start this config as a new task with --name "
            "NAME")


def test_a_detached_controller_runs_on_and_search_ctl_says_it_is_alive(
        tmp_path):
    trial = write_trial(tmp_path)
    config = write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps=40 delay=0.1"
          search_args: {{lr: {{type: Categorical, data: [0.1, 0.2]}}}}
        ''')
    run = search('search-run', str(config), '--detach', cwd=tmp_path,
                 timeout=60)
    assert run.returncode == 0, run.stderr
    assert "task 'search' runs in the background (controller pid" in \
        run.stdout
    pid = int(run.stdout.split('controller pid ')[1].split(')')[0])
    show = search('search-ctl', 'show', '-t', 'search', cwd=tmp_path)
    assert f'controller: pid {pid} on ' in show.stdout
    assert ', alive (last heartbeat ' in show.stdout
    assert 'state:     RUNNING' in show.stdout
    os.kill(pid, signal.SIGKILL)  # the controller dies; its trials go on
    time.sleep(0.5)
    show = search('search-ctl', 'show', '-t', 'search', cwd=tmp_path)
    assert 'state:     INTERRUPTED' in show.stdout
    assert (f'controller: pid {pid} on ') in show.stdout
    assert 'not running (last heartbeat' in show.stdout
    assert '`search-run --resume search` continues the task' in show.stdout
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path,
                     timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    store = TaskStore(str(tmp_path / 'search_tasks/search/task.db'), True)
    rewards = [t.reward for t in store.trials()]
    store.close()
    assert rewards == pytest.approx([100.0, 99.0])
    show = search('search-ctl', 'show', '-t', 'search', cwd=tmp_path)
    assert ', ended (last heartbeat' in show.stdout


def test_a_detached_controller_that_cannot_start_reports_why(tmp_path):
    """The background controller fails (another one holds the task): the
    foreground command prints its error and fails."""
    config = write_config(tmp_path, '''
        task:
          template: "true {lr}"
          search_args: {lr: {type: Categorical, data: [0.1]}}
        ''')
    assert search('search-run', str(config), cwd=tmp_path).returncode == 0
    lock = tmp_path / 'search_tasks/search/controller.lock'
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import fcntl, sys, time; f = open(sys.argv[1],'
         ' "a+"); fcntl.flock(f, fcntl.LOCK_EX); print("held", flush=True); '
         'time.sleep(60)', str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        run = search('search-run', '--resume', 'search', '--detach',
                     cwd=tmp_path)
    finally:
        holder.kill()
    assert run.returncode == 2
    assert "task 'search' is being run by another controller" in run.stderr


FAKE_SBATCH = '''#!/bin/sh
for last; do :; done
cp "$last" {out}/submitted.sh
echo "$@" > {out}/args
echo 4242
'''


def test_a_slurm_script_carries_the_options_and_the_trials_environment(
        tmp_path, monkeypatch):
    """The job script as sbatch gets it (a stand-in sbatch keeps it): the
    configured options as #SBATCH lines, the controller's environment
    written out, less Slurm's variables and the login node's GPUs."""
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'sbatch').write_text(FAKE_SBATCH.format(out=tmp_path))
    (fake / 'sbatch').chmod(0o755)
    monkeypatch.setenv('PATH', f'{fake}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.setenv('SLURM_JOB_ID', '17')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3')
    monkeypatch.setenv('GML_TEST_MARK', "it's here")
    monkeypatch.chdir(tmp_path)
    cfg = parse_config(dict(
        task=dict(template='echo {lr}', search_args=dict(lr=0.1)),
        scheduler=dict(type='slurm', account='proj', qos='high', mem='4G',
                       constraint='a100', exclusive=True, cpus_per_trial=4,
                       gpus_per_trial=1, sbatch_args='--nice=5',
                       stop_criterion=dict(time_limits_per_job=150))))
    scheduler = build_components(cfg, 'lr')[2]
    trial_dir = tmp_path / 'trial'
    trial_dir.mkdir()
    job = scheduler.launch(7, 'echo 1', str(trial_dir), {'A': 'b'}, 150)
    assert job == '4242'
    assert (tmp_path / 'args').read_text().split()[:3] == [
        '--parsable', '--nice=5', str(trial_dir / 'run.sh')]
    script = (tmp_path / 'submitted.sh').read_text()
    sbatch = [line[len('#SBATCH '):] for line in script.splitlines()
              if line.startswith('#SBATCH ')]
    assert sbatch == [
        '--job-name=gml-lr-7', f'--output={trial_dir}/log.txt',
        '--open-mode=append', '--ntasks=1', '--cpus-per-task=4',
        f'--chdir={tmp_path}', '--account=proj', '--qos=high',
        '--constraint=a100', '--mem=4G', '--time=4', '--gres=gpu:1',
        '--exclusive']
    assert "export GML_TEST_MARK='it'\"'\"'s here'" in script
    assert f"export PATH={fake}{os.pathsep}" in script
    assert 'export OMP_NUM_THREADS=4' in script and 'export A=b' in script
    assert 'SLURM_JOB_ID=' not in script
    assert 'CUDA_VISIBLE_DEVICES' not in script


@pytest.mark.parametrize('key, value, expected', [
    ('mem', '4 G', "scheduler.mem: expected one sbatch value (a word or a "
                   "number), found '4 G'"),
    ('exclusive', 'yes', "scheduler.exclusive: expected true or false, "
                         "found 'yes'"),
    ('query_interval', -1, 'scheduler.query_interval: expected a number '
                           '>= 0, found -1'),
    ('max_requeues', -1, 'scheduler.max_requeues: expected an integer >= 0, '
                         'found -1'),
])
def test_slurm_keys_are_checked(tmp_path, monkeypatch, key, value, expected):
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'sbatch').write_text('#!/bin/sh\n')
    (fake / 'sbatch').chmod(0o755)
    monkeypatch.setenv('PATH', f'{fake}{os.pathsep}{os.environ["PATH"]}')
    with pytest.raises(ConfigError) as err:
        cfg = parse_config(dict(
            task=dict(template='echo {lr}', search_args=dict(lr=0.1)),
            scheduler={'type': 'slurm', key: value}))
        build_components(cfg, 'lr')
    assert str(err.value) == expected
