"""The ResNetSlice CIFAR-10 BigNAS config trains on CIFAR-format files."""
import re
import shutil
import sys

import pytest

from ..conftest import run_tool
from ..foundation.cifar_files import write_cifar10

CONFIG = 'configs/nas/bignas/bignas_resnet18_cifar10.py'


def _resnet18_cifar_macs(widths, res, stem=64, classes=10):
    """MACs of a one-or-two-block-per-stage CIFAR ResNet, by hand: 3x3
    convs, a 1x1 shortcut wherever the width or stride changes."""
    blocks, total = widths['blocks'], 3 * stem * 9 * res * res
    c_in = stem
    for stage, (c, n) in enumerate(zip(widths['channels'], blocks)):
        if stage:
            res = (res + 1) // 2
        pixels = res * res
        total += c_in * c * 9 * pixels + c * c * 9 * pixels  # first block
        if c_in != c or stage:
            total += c_in * c * pixels  # projection shortcut
        total += (n - 1) * 2 * c * c * 9 * pixels
        c_in = c
    return (total + c_in * classes) / 1e6


def test_max_and_min_macs_by_hand():
    # the max subnet is the CIFAR ResNet-18 (0.555 GMACs, 11.17 M params
    # with BN, the usual published figures)
    assert _resnet18_cifar_macs(dict(channels=[64, 128, 256, 512],
                                     blocks=[2] * 4), 32) == 555.42272
    assert _resnet18_cifar_macs(dict(channels=[32, 64, 128, 256],
                                     blocks=[1] * 4), 24) == 42.875392


@pytest.mark.slow
def test_cifar10_supernet_trains_and_logs_its_subnets(tmp_path):
    write_cifar10(tmp_path / 'cifar10', per_batch=8)
    data = [f'{loader}_dataloader.{key}'
            for loader in ('train', 'val', 'test')
            for key in (f'dataset.data_root={tmp_path}/cifar10',
                        'num_workers=0')]
    run = run_tool([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *data,
        'train_dataloader.batch_size=20',
        'train_cfg.max_epochs=1', 'custom_hooks.0.interval=1',
        'default_hooks.checkpoint.interval=1'])
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    line = re.search(r'Epoch\(subnets\) \[1\] (.*)', log).group(1)
    values = dict(re.findall(r'(\S+): ([0-9.e+-]+)', line))
    # the log prints 4 significant digits. The parameter count is of convs
    # and the classifier: the published 11.17 M (11,173,962) less the
    # 9,600 BN weights and biases (2 x (64 + 4 x 64 + 5 x 128 + 5 x 256 +
    # 5 x 512), shortcut BNs included) is 11,164,362
    assert 11173962 - 2 * (64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512) == \
        11164362
    assert values['max/flops'] == f'{555.42272:.4g}'
    assert values['min/flops'] == f'{42.875392:.4g}'
    assert values['max/params'] == f'{11.164362:.4g}'
    # random images and labels: nothing to learn, so no accuracy above
    # chance to expect; what can be checked is that the 8 images of
    # test_batch were scored (accuracies are multiples of 100/8; scoring the
    # 40 training images would give multiples of 2.5) and that the epoch
    # checkpoint tests at the validation of its max subnet
    val = float(re.search(r'Epoch\(val\) \[1\].*?accuracy/top1: ([0-9.]+)',
                          log).group(1))
    for acc in (float(values['max/accuracy/top1']),
                float(values['min/accuracy/top1']), val):
        assert acc * 8 / 100 == pytest.approx(round(acc * 8 / 100),
                                              abs=1e-3), acc
    # a test needs the test set only: copy test_batch alone elsewhere and
    # leave the training and validation sets at the config's (absent) path
    only_test = tmp_path / 'test_only' / 'cifar-10-batches-py'
    only_test.mkdir(parents=True)
    for name in ('test_batch', 'batches.meta'):
        shutil.copy(tmp_path / 'cifar10' / 'cifar-10-batches-py' / name,
                    only_test / name)
    test = run_tool([
        sys.executable, 'tools/test.py', CONFIG,
        str(tmp_path / 'work' / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 'test'), '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path}/test_only',
        'test_dataloader.num_workers=0'])
    assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
    tested = float(re.search(r'accuracy/top1=([0-9.]+)',
                             test.stdout).group(1))
    assert tested == pytest.approx(val, abs=0.01)
