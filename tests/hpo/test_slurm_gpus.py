"""The GPUs a Slurm trial asks for: ``scheduler.gpus_per_trial`` becomes
``--gres=gpu:N`` in the script sbatch gets (a stand-in sbatch keeps it; no
cluster is needed)."""
import os

import pytest

from gml.search.config import parse_config
from gml.search.controller import build_components
from gml.search.schedulers.base import LaunchRequest

from .test_cluster_config import FAKE_SBATCH


@pytest.fixture
def slurm_scheduler(tmp_path, monkeypatch):
    """A factory of Slurm schedulers whose sbatch copies the submitted
    script to ``tmp_path/submitted.sh``."""
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'sbatch').write_text(FAKE_SBATCH.format(out=tmp_path))
    (fake / 'sbatch').chmod(0o755)
    monkeypatch.setenv('PATH', f'{fake}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.chdir(tmp_path)

    def build(**keys):
        cfg = parse_config(dict(
            task=dict(template='echo {lr}', search_args=dict(lr=0.1)),
            scheduler=dict(type='slurm', **keys)))
        return build_components(cfg, 'lr')[2]
    return build


def _sbatch_lines(tmp_path):
    script = (tmp_path / 'submitted.sh').read_text()
    return [line[len('#SBATCH '):] for line in script.splitlines()
            if line.startswith('#SBATCH ')]


def _trial_dirs(tmp_path, count):
    dirs = []
    for i in range(1, count + 1):
        (tmp_path / 'trials' / str(i)).mkdir(parents=True)
        dirs.append(str(tmp_path / 'trials' / str(i)))
    return dirs


@pytest.mark.parametrize('gpus', [0, 1, 4])
def test_one_job_asks_for_its_gpus(tmp_path, slurm_scheduler, gpus):
    scheduler = slurm_scheduler(gpus_per_trial=gpus)
    trial_dir, = _trial_dirs(tmp_path, 1)
    scheduler.launch(1, 'echo 1', trial_dir, {}, None)
    gres = [line for line in _sbatch_lines(tmp_path)
            if line.startswith('--gres')]
    assert gres == ([f'--gres=gpu:{gpus}'] if gpus else [])


def test_a_job_array_asks_for_the_gpus_of_each_task(tmp_path,
                                                    slurm_scheduler):
    """An array's options hold for each of its tasks: one trial each."""
    scheduler = slurm_scheduler(gpus_per_trial=2, array=True)
    requests = [LaunchRequest(i, 'echo 1', d, {}, None)
                for i, d in enumerate(_trial_dirs(tmp_path, 3), 1)]
    assert scheduler.launch_many(requests) == ['4242_1', '4242_2', '4242_3']
    lines = _sbatch_lines(tmp_path)
    assert '--array=1,2,3' in lines
    assert [line for line in lines if line.startswith('--gres')] == \
        ['--gres=gpu:2']
    for d in requests:  # Slurm sets the devices: run.sh does not
        assert 'CUDA_VISIBLE_DEVICES' not in open(
            os.path.join(d.trial_dir, 'run.sh')).read()


def test_gpus_per_trial_must_be_a_count(slurm_scheduler):
    from gml.errors import ConfigError
    with pytest.raises(ConfigError, match=r'^scheduler.gpus_per_trial: '
                       r'expected an integer >= 0, found -1$'):
        slurm_scheduler(gpus_per_trial=-1)
