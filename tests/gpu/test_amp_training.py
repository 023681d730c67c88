"""``tools/train.py --amp`` on CUDA: the digits baseline and one digits
config of each algorithm kind (KD, BigNAS, DMCP, low-bit QAT, ActNN) train
for a few short epochs (23 iterations each) with mixed precision, every
logged loss is finite, the training convolutions ran under autocast and
the validation accuracy is well above chance (10 digits).

Each run's learning-rate schedule is squeezed into its epochs (warm-up in
the first, cosine to the last). Measured on the CPU (without --amp): with
the schedules as they are, one or two epochs leave KD at chance and the
others near 30%; squeezed into 3 epochs, the baseline reaches 81%, BigNAS
61%, DMCP 77%, LSQ w4a4 94%, ActNN L3 85%, but KD only 21%: KD gets 6
epochs (71%)."""
import math
import os
import re
import sys

import pytest

from ..conftest import run_tool
from .conftest import DRY, needs_cuda

pytestmark = needs_cuda + [pytest.mark.slow]

CHANCE = 10.0  # percent: ten classes
ABOVE_CHANCE = 2 * CHANCE
EPOCHS = 3  # of 23 iterations each (KD: 6)
PROBE = os.path.join(os.path.dirname(__file__), 'autocast_probe')


def amp_train(config, work, epochs, *options):
    """Train ``config`` with ``--amp`` for ``epochs`` into ``work``; return
    (the log, the final validation metrics)."""
    amp = [] if DRY else ['--amp']
    run = run_tool([sys.executable, 'tools/train.py', config, *amp,
                    '--work-dir', str(work), '--cfg-options',
                    f'train_cfg.max_epochs={epochs}',
                    f'train_cfg.val_interval={epochs}',
                    'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
                    f'param_scheduler.1.end={epochs}',
                    f'default_hooks.checkpoint.interval={epochs}', *options],
                   env={'PYTHONPATH': os.pathsep.join(
                       filter(None, [PROBE, os.environ.get('PYTHONPATH')]))})
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert DRY or 'AmpOptimWrapper' in log, 'no mixed precision in the run'
    # the training process's count (data-loader workers print theirs too)
    autocast, total = max(((int(a), int(t)) for a, t in re.findall(
        r'autocast-probe: (\d+) of (\d+) training convolutions', log)),
        key=lambda counts: counts[1], default=(0, 0))
    assert total > 0 and (autocast == 0 if DRY else autocast > 0), \
        (autocast, total)
    final = re.search(r'gml: final validation metrics: (.*)', run.stdout)
    assert final, log[-3000:]
    metrics = dict(item.split('=', 1) for item in final.group(1).split(', '))
    return log, {k: float(v) for k, v in metrics.items()}


def check_trained(log, metrics):
    """Every logged loss term finite; every top-1 accuracy above chance."""
    losses = re.findall(r'\b(loss\w*): (\S+)', log)
    assert losses, 'no loss in the training log'
    bad = [(name, value) for name, value in losses
           if not math.isfinite(float(value))]
    assert not bad, bad
    accuracies = {k: v for k, v in metrics.items()
                  if k.endswith('accuracy/top1')}
    assert accuracies, metrics
    assert all(v > ABOVE_CHANCE for v in accuracies.values()), accuracies


@pytest.fixture(scope='module')
def amp_baseline(tmp_path_factory):
    """The digits baseline after the AMP epochs: (log, metrics, its
    checkpoint); the teacher of KD and the start of low-bit QAT."""
    work = tmp_path_factory.mktemp('amp_baseline')
    log, metrics = amp_train('configs/baseline/digits_resnet.py', work,
                             EPOCHS)
    return log, metrics, work / f'epoch_{EPOCHS}.pth'


def test_the_digits_baseline_trains_with_amp(amp_baseline):
    log, metrics, checkpoint = amp_baseline
    check_trained(log, metrics)
    assert checkpoint.is_file()


#: config, epochs and options of each kind; {ckpt} is the AMP baseline's
#: checkpoint
ALGORITHMS = {
    'kd': ('configs/kd/kd/kd_digits.py', 2 * EPOCHS,
           ['algorithm.distill_cfg.teacher.ckpt_path={ckpt}']),
    'bignas': ('configs/nas/bignas/bignas_resnet_digits.py', EPOCHS,
               [f'custom_hooks.0.interval={EPOCHS}',
                'default_hooks.checkpoint.save_best=None']),
    'dmcp': ('configs/pruning/dmcp/dmcp_resnet_digits.py', EPOCHS,
             ['algorithm.algorithm_cfg.arch_start_training=10',
              f'custom_hooks.0.interval={EPOCHS}',
              'default_hooks.checkpoint.save_best=None']),
    'qat-lsq-w4a4': ('configs/quantization/lsq/lsq_w4a4_resnet_digits.py',
                     EPOCHS, ['algorithm.pretrained={ckpt}']),
    'actnn-l3': ('configs/actnn/actnn_l3_resnet_digits.py', EPOCHS, []),
}


@pytest.mark.parametrize('kind', list(ALGORITHMS))
def test_each_algorithm_kind_trains_with_amp(kind, amp_baseline, tmp_path):
    config, epochs, options = ALGORITHMS[kind]
    checkpoint = amp_baseline[2]
    log, metrics = amp_train(config, tmp_path / kind, epochs,
                             *(o.format(ckpt=checkpoint) for o in options))
    check_trained(log, metrics)
