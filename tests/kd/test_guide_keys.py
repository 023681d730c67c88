"""The design guide's KD keys as written: Factor Transfer's pretraining by
default, InplaceDistiller, and one-line messages for missing or broken
entries of ``distill_cfg``."""
import re
import sys
import warnings

import pytest
import torch

from gml.algorithms.distill.teacher_student import \
    DEFAULT_CONNECTOR_PRETRAIN_EPOCHS
from gml.errors import ConfigError
from gml.registry import build_algorithm, build_model

from ..conftest import run_tool
from .test_distillation import (batch, changed, classifier, epoch_zero,  # noqa: F401,E501
                                kd_head, set_epoch, snapshot, step)


def guide_ft(stu_connector=None, **algorithm):
    """The guide's Factor Transfer block: no connector_pretrain_epochs."""
    head = dict(type='BaseDistillationHead', name='ft',
                stu_connector=stu_connector or dict(
                    type='Translator', in_channels=32, out_channels=32),
                tea_connector=dict(type='Paraphraser', in_channels=64,
                                   factor_rate=0.5,
                                   pretrain_criterion=dict(type='L1Loss')),
                loss=dict(type='FTLoss', loss_weight=500.0))
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distiller=dict(type='TeacherDistiller'), use_meal=False,
            pretrained=None,
            distill_cfg=dict(teacher=dict(
                ckpt_path=None, model=classifier(8),
                distill_head_cfg=[dict(student_module='neck',
                                       student_record='input',
                                       teacher_module='neck',
                                       teacher_record='input',
                                       head=head)])), **algorithm))


def sgd(algo, lr=0.1):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=lr,
        momentum=0.9))


def reconstruction(algo, data):
    """The paraphraser's L1 reconstruction loss of the teacher's feature on
    a fixed batch."""
    algo.eval()
    with torch.no_grad():
        algo.distiller.teacher_forward(data['inputs'])
        loss = algo.distiller.head_losses(pretrain=True)['loss_pretrain_ft']
    algo.distiller.recorder.clear()
    algo.train()
    return loss.item()


def test_the_guide_keys_alone_pretrain_the_paraphraser():
    algo = guide_ft()
    assert algo.connector_pretrain_epochs == DEFAULT_CONNECTOR_PRETRAIN_EPOCHS
    assert DEFAULT_CONNECTOR_PRETRAIN_EPOCHS == 5
    paraphraser = algo.distiller.heads[0].tea_connector
    fixed = algo.data_preprocessor(batch(seed=7), False)
    at_init, weights = reconstruction(algo, fixed), snapshot(paraphraser)
    student = snapshot(algo.model)
    algo.train()
    optim = sgd(algo)
    for epoch in range(DEFAULT_CONNECTOR_PRETRAIN_EPOCHS):
        set_epoch(epoch)
        assert algo.stage() == 'pretrain'
        for i in range(4):  # four batches an epoch
            log = algo.train_step(batch(seed=10 * epoch + i), optim)
            assert set(log) == {'loss', 'loss_pretrain_ft'}
    after = reconstruction(algo, fixed)
    # measured: 0.01984 at init, 0.01206 after 20 steps
    assert after < 0.7 * at_init, (at_init, after)
    assert changed(weights, paraphraser)
    assert changed(student, algo.model) == []  # BN statistics included
    set_epoch(DEFAULT_CONNECTOR_PRETRAIN_EPOCHS)
    assert algo.stage() == 'distill'
    frozen = snapshot(paraphraser)
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    hub.update_scalar('train/loss_pretrain_ft', 0.25)  # as the logger does
    assert set(step(algo, seed=9)) == {'loss', 'student_loss', 'loss_ft'}
    assert changed(frozen, paraphraser) == []
    # the finished stage's loss is no longer repeated in the log lines
    assert 'train/loss_pretrain_ft' not in hub.log_scalars


def test_zero_pretraining_epochs_with_a_criterion_is_refused():
    with pytest.raises(ConfigError) as info:
        guide_ft(connector_pretrain_epochs=0)
    assert str(info.value) == (
        'algorithm.connector_pretrain_epochs: expected >= 1 (the default is '
        '5), found 0: a connector with a pretrain_criterion would stay at its '
        'random init; remove its pretrain_criterion to train it with the '
        'student')
    assert guide_ft(connector_pretrain_epochs=2).connector_pretrain_epochs \
        == 2
    with pytest.raises(ConfigError, match=r'connector_pretrain_epochs: '
                       r'expected an integer >= 0, found -1'):
        guide_ft(connector_pretrain_epochs=-1)
    # without a criterion nothing is pretrained and the default is 0
    plain_head = dict(kd_head())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        algo = build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distill_cfg=dict(teacher=dict(model=classifier(8)),
                             distill_head_cfg=[plain_head])))
    assert algo.connector_pretrain_epochs == 0 and algo.stage() == 'distill'
    with pytest.raises(ConfigError, match=r'connector_pretrain_epochs: '
                       r'expected 0 \(no connector has a pretrain_criterion'
                       r'\), found 3'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            build_algorithm(dict(
                type='TeacherStudentDistillation', model=classifier(4),
                connector_pretrain_epochs=3,
                distill_cfg=dict(teacher=dict(model=classifier(8)),
                                 distill_head_cfg=[plain_head])))


def test_a_student_side_connector_with_a_criterion_is_pretrained_too():
    algo = guide_ft(stu_connector=dict(
        type='Paraphraser', in_channels=32, factor_rate=1.0,
        pretrain_criterion=dict(type='L1Loss')))
    stu = algo.distiller.heads[0].stu_connector
    fixed = algo.data_preprocessor(batch(seed=7), False)

    def student_reconstruction():
        algo.eval()
        with torch.no_grad():
            losses = algo.pretrain_losses(fixed['inputs'])
        algo.distiller.recorder.clear()
        algo.train()
        return losses['loss_pretrain_ft_stu'].item()

    before, weights = student_reconstruction(), snapshot(stu)
    student = snapshot(algo.model)
    algo.train()
    optim = sgd(algo)
    for seed in range(20):
        log = algo.train_step(batch(seed=seed), optim)
    assert set(log) == {'loss', 'loss_pretrain_ft', 'loss_pretrain_ft_stu'}
    after = student_reconstruction()
    assert after < 0.8 * before, (before, after)  # measured 0.0117 -> 0.0085
    assert changed(weights, stu)
    assert changed(student, algo.model) == []
    set_epoch(5)
    frozen = snapshot(stu)
    step(algo, seed=9)
    assert changed(frozen, stu) == []


def test_a_run_that_is_all_pretraining_says_so(monkeypatch):
    import mmengine.logging
    from mmengine.logging import MessageHub
    said = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, **kw: said.append((msg, kw['level'])))
    hub = MessageHub.get_current_instance()
    algo = guide_ft()
    algo.train()
    for max_epochs, warned in ((6, False), (5, True)):
        algo._warned_short_run = False
        hub.update_info('max_epochs', max_epochs)
        try:
            step(algo)
        finally:
            hub.update_info('max_epochs', None)
        out = ' '.join(m for m, level in said if level == 30)
        said.clear()
        assert (f'the run has {max_epochs} epoch(s), all spent pretraining '
                'the connectors (5 epochs); the student never trains'
                in out) is warned, out


def test_inplace_distiller_in_a_teacher_student_algorithm_is_one_line():
    with pytest.raises(ConfigError) as info:
        build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distiller=dict(type='InplaceDistiller'),
            distill_cfg=dict(teacher=dict(model=classifier(8)),
                             distill_head_cfg=[kd_head()])))
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith(
        "algorithm.distiller: expected a teacher-student distiller "
        "(dict(type='TeacherDistiller')), found ")
    assert "the BigNAS head's distiller_mode='soft' (docs/nas.md)" in message
    assert 'algorithm.distillation (docs/pruning.md)' in message


def broken(**changes):
    cfg = dict(type='TeacherStudentDistillation', model=classifier(4),
               distill_cfg=dict(teacher=dict(model=classifier(8)),
                                distill_head_cfg=[kd_head()]))
    for path, value in changes.items():
        node = cfg
        *parents, last = path.split('__')
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(ConfigError) as info:
            build_algorithm(cfg)
    message = str(info.value)
    assert '\n' not in message
    return message


def test_missing_keys_are_one_line_naming_the_key_path():
    assert broken(distill_cfg=...) == (
        'algorithm.distill_cfg: expected the teachers and heads, e.g. '
        'dict(teacher=dict(model=..., ckpt_path=..., distill_head_cfg=['
        'dict(student_module=..., teacher_module=..., head=...)])), found none')
    assert broken(distill_cfg__teacher__model=...) == (
        'algorithm.distill_cfg.teacher.model: expected the teacher model '
        'config, found none')
    assert broken(distill_cfg__distill_head_cfg__0__student_module=...) == (
        "algorithm.distill_cfg.distill_head_cfg[0].student_module: expected "
        "the student's module to supervise, e.g. 'backbone.layer4', found "
        "none")
    assert broken(distill_cfg__distill_head_cfg__0__head=...).startswith(
        'algorithm.distill_cfg.distill_head_cfg[0].head: expected dict(')
    assert broken(distill_cfg__teacher=[dict(model=classifier(8)),
                                        dict(ckpt_path='x')]) == (
        'algorithm.distill_cfg.teacher[1].model: expected the teacher model '
        'config, found none')
    assert broken(distill_cfg__distill_head_cfg__0__studnet_module='x') \
        .endswith("distill_head_cfg[0]: unknown keys ['studnet_module']; "
                  'expected student_module, teacher_module, head, '
                  'student_record, teacher_record')


@pytest.fixture
def checkpoints(tmp_path):
    """A real teacher checkpoint, one of random bytes, one cut in half."""
    real = tmp_path / 'teacher.pth'
    torch.save({'state_dict': build_model(classifier(8)).state_dict()}, real)
    data = real.read_bytes()
    corrupt = tmp_path / 'random.pth'
    # not os.urandom: random bytes fail unpickling in varying ways
    # (UnpicklingError, or a ValueError on an "extension code")
    corrupt.write_bytes(b'\x17 not a checkpoint ' * (len(data) // 20))
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 2])
    return real, corrupt, truncated


def test_unreadable_teacher_checkpoints_are_one_line(checkpoints):
    real, corrupt, truncated = checkpoints
    message = broken(distill_cfg__teacher__ckpt_path=str(corrupt))
    assert message.startswith(
        f'algorithm.distill_cfg.teacher.ckpt_path: {corrupt} is not a '
        'readable checkpoint (UnpicklingError: ')
    message = broken(distill_cfg__teacher__ckpt_path=str(truncated))
    assert re.fullmatch(
        re.escape(f'algorithm.distill_cfg.teacher.ckpt_path: {truncated} is '
                  'not a readable checkpoint (') + r'\w+: .+\)', message), \
        message
    assert broken(distill_cfg__teacher__ckpt_path=str(real) + '.missing') \
        == (f'algorithm.distill_cfg.teacher.ckpt_path: checkpoint not found: '
            f'{real}.missing')


def test_train_tool_reports_a_corrupt_teacher_in_one_line(checkpoints,
                                                          tmp_path):
    _, corrupt, _ = checkpoints
    run = run_tool([sys.executable, 'tools/train.py',
                    'configs/guide/kd_factor_transfer_digits.py', '--work-dir',
                    str(tmp_path / 'w'), '--cfg-options',
                    f'algorithm.distill_cfg.teacher.ckpt_path={corrupt}'])
    assert run.returncode == 2, run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    # the tool may find it before the build (a preflight of every
    # checkpoint the config names): either way one line, the key and path
    assert lines[-1].startswith(
        'train.py: error: algorithm.distill_cfg.teacher.ckpt_path: ')
    assert f'{corrupt} is not a readable checkpoint (' in lines[-1]
    assert 'Traceback' not in run.stderr
