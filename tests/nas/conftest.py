"""A digits BigNAS supernet trained once for the tests that need one."""
import sys

import pytest

from ..conftest import run_tool

DIGITS_CONFIG = 'configs/nas/bignas/bignas_resnet_digits.py'


@pytest.fixture(scope='session')
def digits_supernet(tmp_path_factory):
    """The checkpoint of the digits supernet after one epoch."""
    work = tmp_path_factory.mktemp('digits_supernet')
    train = run_tool([sys.executable, 'tools/train.py', DIGITS_CONFIG,
                      '--work-dir', str(work), '--cfg-options',
                      'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                      'custom_hooks.0.interval=1',
                      # the epoch checkpoint alone (saved before validation)
                      'default_hooks.checkpoint.save_best=None'])
    assert train.returncode == 0, train.stderr[-3000:]
    return str(work / 'epoch_1.pth')
