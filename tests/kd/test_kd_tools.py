"""Distillation through the real tools: train, export, test, and DDP."""
import re
import sys

import pytest

from ..conftest import run_tool

ONE_EPOCH = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
             'default_hooks.checkpoint.interval=1']


def _accuracy(output, label):
    match = re.search(label + r'.*accuracy/top1=([0-9.]+)', output)
    assert match, output[-3000:]
    return float(match.group(1))


@pytest.fixture
def teacher(digits_teacher):
    return digits_teacher


@pytest.mark.slow
def test_kd_trains_exports_and_the_plain_student_tests_the_same(teacher,
                                                                tmp_path):
    work = tmp_path / 'kd'
    run = run_tool([sys.executable, 'tools/train.py',
                    'configs/kd/kd/kd_digits.py', '--work-dir', str(work),
                    '--cfg-options', *ONE_EPOCH,
                    f'algorithm.distill_cfg.teacher.ckpt_path={teacher}'])
    assert run.returncode == 0, run.stderr[-3000:]
    trained = _accuracy(run.stdout, 'final validation metrics')
    log = run.stdout + run.stderr
    assert 'loss_kd' in log and 'student_loss' in log
    student = tmp_path / 'student.pth'
    export = run_tool([sys.executable, 'tools/export_model.py',
                       'configs/kd/kd/kd_digits.py', str(work / 'epoch_1.pth'),
                       str(student)])
    assert export.returncode == 0, export.stderr[-2000:]
    test = run_tool([sys.executable, 'tools/test.py',
                     'configs/kd/digits_student.py', str(student),
                     '--work-dir', str(tmp_path / 'test')])
    assert test.returncode == 0, test.stderr[-3000:]
    assert _accuracy(test.stdout, 'test metrics') == pytest.approx(trained,
                                                                   abs=0.01)


@pytest.mark.slow
def test_factor_transfer_under_dist_train_with_two_gloo_processes(teacher,
                                                                  tmp_path):
    run = run_tool(['bash', 'tools/dist_train.sh',
                    'configs/kd/factor_transfer/ft_digits.py', '2',
                    '--work-dir', str(tmp_path), '--cfg-options',
                    'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
                    f'algorithm.distill_cfg.teacher.ckpt_path={teacher}'],
                   )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    # epoch 1 pretrains the paraphraser, epoch 2 distils; 12 iterations each
    assert re.search(r'Epoch\(train\) \[1\]\[12/12\].*loss_pretrain_ft', log)
    assert re.search(r'Epoch\(train\) \[2\]\[12/12\].*student_loss.*loss_ft',
                     log)
    assert 'final validation metrics' in run.stdout


def test_missing_teacher_checkpoint_is_one_clear_error(tmp_path):
    run = run_tool([sys.executable, 'tools/train.py',
                    'configs/kd/kd/kd_digits.py', '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options',
                    'algorithm.distill_cfg.teacher.ckpt_path=/no/teacher.pth'])
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last == ('train.py: error: algorithm.distill_cfg.teacher.'
                    'ckpt_path: checkpoint not found: /no/teacher.pth')
    assert not (tmp_path / 'w').exists()
