"""Teacher-student algorithms: frozen teachers, stages, MEAL, checkpoints."""
import re
import warnings

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

from gml.errors import ConfigError
from gml.registry import build_algorithm, build_model

PRE = dict(type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3)


def classifier(width, depth=18):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=depth, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=8 * width),
        data_preprocessor=PRE)


def kd_head(name='kd', weight=1.0, **extra):
    return dict(student_module='head.fc', teacher_module='head.fc',
                head=dict(type='gml.BaseDistillationHead', name=name,
                          loss=dict(type='gml.KDLoss', temperature=4.0,
                                    loss_weight=weight), **extra))


def batch(n=8, seed=0):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=[torch.randint(0, 255, (3, 16, 16), generator=g)
                        .float() for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(n)])


def set_epoch(epoch):
    MessageHub.get_current_instance().update_info('epoch', epoch)


@pytest.fixture(autouse=True)
def epoch_zero():
    set_epoch(0)
    yield
    set_epoch(0)


def algorithm(heads, teacher_width=8, **kwargs):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distill_cfg=dict(teacher=dict(model=classifier(teacher_width)),
                             distill_head_cfg=heads), **kwargs))


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    return [k for k, v in module.state_dict().items()
            if not torch.equal(before[k], v)]


def step(algo, seed=0, lr=0.1):
    opt = OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=lr,
        momentum=0.9))
    return algo.train_step(batch(seed=seed), opt)


def test_kd_step_trains_the_student_and_never_the_teacher():
    algo = algorithm([kd_head()])
    teacher = algo.distiller.teachers[0]
    before_teacher, before_student = snapshot(teacher), snapshot(algo.model)
    algo.train()
    assert not teacher.training and algo.model.training
    log = step(algo)
    assert set(log) == {'loss', 'student_loss', 'loss_kd'}
    assert changed(before_teacher, teacher) == []  # BN statistics included
    assert changed(before_student, algo.model)
    assert all(p.grad is None for p in teacher.parameters())
    assert not any(p.requires_grad for p in teacher.parameters())


def test_kd_loss_equals_the_formula_on_the_recorded_logits():
    algo = algorithm([kd_head(weight=0.9)], student_loss_weight=0.0)
    algo.eval()
    data = algo.data_preprocessor(batch(), False)
    with torch.no_grad():
        losses = algo.loss(data['inputs'], data['data_samples'])
        s = algo.model(data['inputs'], mode='tensor')
        t = algo.distiller.teachers[0](data['inputs'], mode='tensor')
    assert set(losses) == {'loss_kd'}
    T = 4.0
    expected = 0.9 * T * T * F.kl_div(F.log_softmax(s / T, 1),
                                      F.softmax(t / T, 1),
                                      reduction='batchmean')
    assert losses['loss_kd'].item() == pytest.approx(expected.item(),
                                                     rel=1e-5)


def test_unknown_module_names_list_close_matches():
    bad = kd_head()
    bad['student_module'] = 'head.fcc'
    with pytest.raises(ConfigError, match=r"student_module: no module named "
                       r"'head.fcc' in ImageClassifier; close matches: "
                       r"head.fc"):
        algorithm([bad])


def test_shape_mismatch_is_found_at_build_time():
    bad = dict(student_module='backbone.layer2', teacher_module='backbone.layer2',
               head=dict(type='gml.BaseDistillationHead', name='hint',
                         loss=dict(type='gml.HintLoss')))
    with pytest.raises(ConfigError) as info:
        algorithm([bad], input_shape=(2, 3, 16, 16))
    message = str(info.value)
    assert "head 'hint'" in message
    assert 'backbone.layer2 (2x8x8x8)' in message
    assert 'backbone.layer2 (2x16x8x8)' in message


def ft_head():
    return dict(student_module='neck', student_record='input',
                teacher_module='neck', teacher_record='input',
                head=dict(type='gml.BaseDistillationHead', name='ft',
                          stu_connector=dict(type='gml.Translator',
                                             in_channels=32, out_channels=32),
                          tea_connector=dict(type='gml.Paraphraser',
                                             in_channels=64, factor_rate=0.5,
                                             pretrain_criterion=dict(
                                                 type='L1Loss')),
                          loss=dict(type='gml.FTLoss', loss_weight=500.0)))


def test_paraphraser_pretrains_alone_then_stays_frozen():
    algo = algorithm([ft_head()], connector_pretrain_epochs=1,
                     input_shape=(2, 3, 16, 16))
    paraphraser = algo.distiller.heads[0].tea_connector
    algo.train()
    student, para = snapshot(algo.model), snapshot(paraphraser)
    log = step(algo)
    assert set(log) == {'loss', 'loss_pretrain_ft'}
    assert changed(student, algo.model) == []
    assert changed(para, paraphraser)
    # reconstruction improves on a fixed batch within a few steps
    first = log['loss_pretrain_ft'].item()
    for _ in range(5):
        last = step(algo)['loss_pretrain_ft'].item()
    assert last < first
    set_epoch(1)
    para = snapshot(paraphraser)
    log = step(algo, seed=1)
    assert set(log) == {'loss', 'student_loss', 'loss_ft'}
    assert changed(para, paraphraser) == []
    assert changed(student, algo.model)
    assert all(p.grad is None for p in paraphraser.parameters())


def test_ab_has_an_initialisation_stage_then_plain_training():
    head = dict(student_module='backbone.layer3.1.relu', student_record='input',
                teacher_module='backbone.layer3.1.relu', teacher_record='input',
                head=dict(type='gml.BaseDistillationHead', name='ab3',
                          stu_connector=dict(type='gml.ConvConnector',
                                             in_channels=16, out_channels=32),
                          loss=dict(type='gml.ABLoss', margin=1.0)))
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        algo = build_algorithm(dict(
            type='ABTeacherStudentDistillation', model=classifier(4),
            init_epochs=2, distill_cfg=dict(
                teacher=dict(model=classifier(8)), distill_head_cfg=[head])))
    algo.train()
    fc = snapshot(algo.model.head)
    assert set(step(algo)) == {'loss', 'loss_ab3'}
    assert changed(fc, algo.model.head) == []  # the classifier waits
    set_epoch(2)
    assert set(step(algo)) == {'loss', 'student_loss'}


def test_meal_uses_the_teachers_mean_softmax_and_no_labels():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        algo = build_algorithm(dict(
            type='ImageClassifierDistiller', model=classifier(4),
            use_meal=True,
            distill_cfg=dict(teacher=[dict(model=classifier(8)),
                                      dict(model=classifier(4))])))
    algo.eval()
    data = algo.data_preprocessor(batch(), False)
    with torch.no_grad():
        losses = algo.loss(data['inputs'], data['data_samples'])
        s = algo.model(data['inputs'], mode='tensor')
        teacher_logits = [t(data['inputs'], mode='tensor')
                          for t in algo.distiller.teachers]
        # the discriminator sees the student's logits (class 0) and the
        # teachers' mean logits (class 1); its loss is the cross-entropy
        # of those two classes, averaged over the 2 x 8 rows
        scores = algo.discriminator(torch.cat(
            [s, (teacher_logits[0] + teacher_logits[1]) / 2]))
    assert set(losses) == {'loss_meal', 'loss_discriminator'}
    probs = [F.softmax(t, 1) for t in teacher_logits]
    target = (probs[0] + probs[1]) / 2
    expected = -(target * F.log_softmax(s, 1)).sum(1).mean()
    assert losses['loss_meal'].item() == pytest.approx(expected.item(),
                                                       rel=1e-5)
    log_p = F.log_softmax(scores, 1)
    assert scores.shape == (16, 2)
    discriminator = -(log_p[:8, 0].sum() + log_p[8:, 1].sum()) / 16
    assert losses['loss_discriminator'].item() == pytest.approx(
        discriminator.item(), rel=1e-5)


def test_teacher_checkpoints_load_with_prefixes_and_fail_clearly(tmp_path):
    source = build_model(classifier(8))
    wrapped = {'state_dict': {f'model.{k}': v
                              for k, v in source.state_dict().items()},
               'meta': {}}
    path = tmp_path / 'teacher.pth'
    torch.save(wrapped, path)
    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distill_cfg=dict(teacher=dict(model=classifier(8),
                                          ckpt_path=str(path)),
                             distill_head_cfg=[kd_head()])))
    for k, v in source.state_dict().items():
        assert torch.equal(loaded.distiller.teachers[0].state_dict()[k], v)
    with pytest.raises(ConfigError, match=re.escape(
            'algorithm.distill_cfg.teacher.ckpt_path: checkpoint not '
            f'found: {tmp_path / "x.pth"}')):
        build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distill_cfg=dict(teacher=dict(model=classifier(8),
                                          ckpt_path=str(tmp_path / 'x.pth')),
                             distill_head_cfg=[kd_head()])))
    with pytest.raises(ConfigError, match=r'does not fit the model; shape '
                       r'mismatch: backbone.bn1.bias \(8,\) vs \(4,\)'):
        build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distill_cfg=dict(teacher=dict(model=classifier(4),
                                          ckpt_path=str(path)),
                             distill_head_cfg=[kd_head()])))
    with pytest.warns(UserWarning, match='teacher is untrained'):
        build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            distill_cfg=dict(teacher=dict(model=classifier(8)),
                             distill_head_cfg=[kd_head()])))


def test_exported_student_loads_into_the_plain_model(tmp_path):
    from mmengine.runner import load_checkpoint, save_checkpoint

    from gml.apis.export import export_wrapped_model
    algo = algorithm([kd_head()])
    algo.train()
    step(algo)
    ckpt = tmp_path / 'algo.pth'
    save_checkpoint(algo.state_dict(), str(ckpt))
    config = tmp_path / 'cfg.py'
    config.write_text(f'algorithm = dict(type="TeacherStudentDistillation", '
                      f'model={classifier(4)!r}, distill_cfg={{}})\n')
    out = export_wrapped_model(str(config), str(ckpt),
                               str(tmp_path / 'student.pth'))
    plain = build_model(classifier(4))
    load_checkpoint(plain, out, strict=True)
    algo.eval(), plain.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(plain(x, mode='tensor'),
                           algo.model(x, mode='tensor'))


def test_a_plain_torch_module_can_be_the_teacher():
    import torch.nn as nn
    plain_teacher = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10))
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        algo = build_algorithm(dict(
            type='TeacherStudentDistillation', model=classifier(4),
            input_shape=(2, 3, 16, 16),
            distill_cfg=dict(
                teacher=dict(model=plain_teacher),
                distill_head_cfg=[dict(
                    student_module='head.fc', teacher_module='1',
                    head=dict(type='gml.BaseDistillationHead', name='kd',
                              loss=dict(type='gml.KDLoss')))])))
    algo.train()
    before = snapshot(plain_teacher)
    assert set(step(algo)) == {'loss', 'student_loss', 'loss_kd'}
    assert changed(before, plain_teacher) == []
