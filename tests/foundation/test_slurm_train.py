"""tools/slurm_train.sh on a real (one-node, local) Slurm cluster."""
import re

import pytest

from ..conftest import run_tool


@pytest.mark.slow
def test_slurm_train_runs_two_tasks_with_the_slurm_launcher(slurm, tmp_path):
    run = run_tool(
        ['bash', 'tools/slurm_train.sh', 'debug', 'gml_slurm_test',
         'configs/baseline/digits_resnet.py', str(tmp_path / 'work'),
         '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'],
        env={'GPUS': '0', 'TASKS': '2', 'CPUS_PER_TASK': '1'})
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # two ranks share the 1,438 training images: 12 iterations of 64 each
    assert 'Epoch(train) [1][12/12]' in log
    assert re.search(r'final validation metrics: accuracy/top1=\d', run.stdout)
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


def test_slurm_train_usage_message():
    run = run_tool(['bash', 'tools/slurm_train.sh', 'debug'])
    assert run.returncode == 2
    assert 'usage: bash' in run.stderr
