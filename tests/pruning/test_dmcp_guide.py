"""DMCP configured with the design guide's keys: no target_flops, the
mutator's keys, and ``distillation.tea_cfg`` (separate teachers)."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from gml.algorithms.pruning.dmcp import _flops_loss_cfg
from gml.errors import ConfigError
from gml.registry import build_algorithm

from ..nas.test_bignas import batch

FULL = 8.762624  # digits ResNet MFLOPs at 16x16
PRE = dict(type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3)
GUIDE_MUTATOR = dict(type='DMCPMutator', num_sample=2, sample_width=None,
                     arch_sample_type=['max', 'min'], arch_learning_rate=0.5,
                     arch_weight_decay=0, input_shape=(1, 3, 16, 16),
                     width=dict(max=1, min=0.1, offset=0.1))


def small_teacher(width):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=8 * width),
        data_preprocessor=PRE)


def guide_dmcp(algorithm_cfg=None, **extra):
    cfg = Config.fromfile('configs/_base_/models/resnet_digits.py')
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # teachers without ckpt_path
        return build_algorithm(dict(
            type='DMCP', model=dict(cfg.model, data_preprocessor=PRE),
            algorithm_cfg=dict(arch_start_training=1000, arch_train_freq=1,
                               arch_sample_num=10, **(algorithm_cfg or {})),
            mutator=dict(GUIDE_MUTATOR, seed=0), **extra))


def test_without_target_flops_the_target_is_half_the_full_model():
    algo = guide_dmcp()
    assert algo.max_flops == pytest.approx(FULL)
    assert algo.target_flops == pytest.approx(FULL / 2)
    # band * target = 0.05 * 4.38 < 1 MFLOPs: log_l1 cannot work, l1 is used
    assert algo.flops_loss.kind == 'l1'
    assert _flops_loss_cfg(None, 2000.0) == dict(type='log_l1')
    assert _flops_loss_cfg(dict(loss_weight=0.1), 19.0)['type'] == 'l1'
    assert _flops_loss_cfg(dict(type='l2'), 2000.0)['type'] == 'l2'
    assert guide_dmcp(dict(target_flops=3.0)).target_flops == 3.0
    # every key of the guide's mutator block is taken as written
    mutator = algo.mutator
    assert mutator.sample_types == ['max', 'min']
    assert (mutator.arch_lr, mutator.arch_wd) == (0.5, 0.0)
    assert mutator.input_shape == (1, 3, 16, 16)
    assert (mutator.grid.min, mutator.grid.max) == (0.1, 1)


def kl(student, teacher):
    """KL(softmax(teacher) || softmax(student)), summed over classes and
    averaged over the batch, written out."""
    p = teacher.exp() / teacher.exp().sum(1, keepdim=True)
    log_q = student - student.exp().sum(1, keepdim=True).log()
    return (p * (p.log() - log_q)).sum(1).mean()


def step_and_logits(algo):
    data = algo.data_preprocessor(batch(), True)
    algo.train()
    # lr 0: the weights stay, so the logits can be recomputed afterwards
    log = algo.train_step(batch(), OptimWrapper(
        torch.optim.SGD(algo.parameters(), lr=0.0)))
    x = data['inputs']
    labels = torch.tensor([s.gt_label.item() for s in data['data_samples']])
    logits = {}
    with torch.no_grad():
        for kind in ('max', 'min'):
            algo.set_subnet(algo.mutator.sample(kind))
            logits[kind] = algo.model(x, mode='tensor')
        algo.set_subnet(None)
        teachers = [t(x, mode='tensor') for t in algo.teachers]
    return log, logits, teachers, labels


@pytest.mark.parametrize('widths', [(8, ), (8, 4)])
def test_the_teachers_soft_labels_enter_every_subnet_loss(widths):
    tea_cfg = [dict(model=small_teacher(w)) for w in widths]
    algo = guide_dmcp(distillation=dict(
        tea_cfg=tea_cfg[0] if len(widths) == 1 else tea_cfg))
    assert len(algo.teachers) == len(widths)
    assert not any(p.requires_grad for t in algo.teachers
                   for p in t.parameters())
    assert not any(k.startswith('_teachers') or 'teacher' in k
                   for k in algo.state_dict())  # not in checkpoints
    log, s, t, labels = step_and_logits(algo)

    def teacher_term(logits):
        return sum(kl(logits, z) for z in t) / len(t)

    expected_max = F.cross_entropy(s['max'], labels) + teacher_term(s['max'])
    expected_min = kl(s['min'], s['max']) + teacher_term(s['min'])
    assert log['loss_0_max'].item() == pytest.approx(expected_max.item(),
                                                     rel=1e-5)
    assert log['loss_1_min'].item() == pytest.approx(expected_min.item(),
                                                     rel=1e-5)
    assert teacher_term(s['min']).item() > 0.01  # the term is not negligible
    # the same subnets without teachers: the teachers' term is gone
    plain = guide_dmcp()
    log, s2, _, _ = step_and_logits(plain)
    assert torch.allclose(s2['min'], s['min'])
    assert log['loss_1_min'].item() == pytest.approx(
        kl(s['min'], s['max']).item(), rel=1e-5)


def test_teachers_stay_frozen_in_eval_mode():
    algo = guide_dmcp(distillation=dict(tea_cfg=dict(model=small_teacher(8))))
    teacher = algo.teachers[0]
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    algo.train()
    algo.train_step(batch(), OptimWrapper(
        torch.optim.SGD(algo.parameters(), lr=0.1)))
    assert not teacher.training
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, before[key]), key  # BN statistics too


def test_distillation_mistakes_are_one_line():
    with pytest.raises(ConfigError) as info:
        guide_dmcp(distillation=dict(tea_cfg=dict(ckpt_path=None)))
    assert str(info.value) == ('algorithm.distillation.tea_cfg.model: '
                               'expected the teacher model config, found none')
    with pytest.raises(ConfigError) as info:
        guide_dmcp(distillation=dict(tea_cfg=[dict(model=small_teacher(4)),
                                              dict()]))
    assert str(info.value).startswith(
        'algorithm.distillation.tea_cfg[1].model: expected')
    with pytest.raises(ConfigError) as info:
        guide_dmcp(distillation=dict(teachers=[]))
    assert str(info.value) == (
        "algorithm.distillation: unknown keys ['teachers']; expected a loss "
        "config (with type) or the keys ['tea_cfg', 'teacher_loss', "
        "'inplace_loss']")
    with pytest.raises(ConfigError, match=r'^algorithm.distillation.tea_cfg'
                       r'.ckpt_path: checkpoint not found: /no/t.pth$'):
        guide_dmcp(distillation=dict(tea_cfg=dict(model=small_teacher(4),
                                                  ckpt_path='/no/t.pth')))
