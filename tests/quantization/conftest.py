"""A digits baseline trained once for the quantization tests."""
import re
import sys

import pytest

from ..conftest import run_tool


@pytest.fixture(scope='session')
def digits_baseline(tmp_path_factory):
    """(checkpoint path, its validation accuracy) of the digits ResNet
    trained for 4 epochs."""
    work = tmp_path_factory.mktemp('digits_baseline')
    train = run_tool([sys.executable, 'tools/train.py',
                      'configs/baseline/digits_resnet.py', '--work-dir',
                      str(work), '--cfg-options', 'train_cfg.max_epochs=4',
                      'param_scheduler.1.end=4',
                      'default_hooks.checkpoint.interval=4'])
    assert train.returncode == 0, train.stderr[-3000:]
    accuracy = float(re.search(r'accuracy/top1=([0-9.]+)', train.stdout)
                     .group(1))
    return work / 'epoch_4.pth', accuracy
