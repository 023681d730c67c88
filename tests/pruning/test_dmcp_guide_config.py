"""configs/guide/dmcp_digits.py (the guide's DMCP keys, no target_flops, a
separate teacher in distillation.tea_cfg) trains through tools/train.py."""
import re
import sys

import pytest

from ..conftest import run_tool


@pytest.fixture
def teacher(digits_teacher):
    return digits_teacher


@pytest.mark.slow
def test_guide_dmcp_config_trains_one_epoch(teacher, tmp_path):
    run = run_tool([sys.executable, 'tools/train.py',
                    'configs/guide/dmcp_digits.py', '--work-dir',
                    str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1',
                    'train_cfg.val_interval=1',
                    'default_hooks.checkpoint.interval=1',
                    'custom_hooks.0.interval=1',
                    # architecture steps within the one epoch
                    'algorithm.algorithm_cfg.arch_start_training=12',
                    f'algorithm.distillation.tea_cfg.ckpt_path={teacher}'])
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert "target_flops is not set: pruning to 50% of the full model's " \
        '8.76262 MFLOPs = 4.38131 MFLOPs' in log
    expected = [float(v) for v in re.findall(r'expected_mflops: ([0-9.]+)',
                                             log)]
    assert expected and expected[-1] < 8.76  # the architecture moved
    top1 = float(re.search(r'final validation metrics: accuracy/top1='
                           r'([0-9.]+)', run.stdout).group(1))
    assert top1 > 30.0  # 10 classes: chance is 10%
