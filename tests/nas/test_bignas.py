"""BigNAS: the sandwich rule, one optimizer step, regularisation, isolation."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from gml.algorithms.nas import sandwich_kinds
from gml.errors import ConfigError
from gml.registry import build_algorithm

from . import toy_supernet  # noqa: F401  (registers ToySliceBackbone)

SUPERNET = dict(
    type='gml.ImageClassifierSearch',
    backbone=dict(type='gml.ToySliceBackbone'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='gml.LinearClsHeadV2', num_classes=10, in_channels=16,
              distiller_mode='soft',
              loss=dict(type='mmcls.LabelSmoothLoss', label_smooth_val=0.1,
                        loss_weight=1.0),
              soft_loss=dict(type='mmcls.CrossEntropyLoss', use_soft=True)),
    resize_process=dict(type='ResizeSlice', resolution=dict(
        type='Int', lower=8, upper=17, step=4, default=16)),
    connect_head=dict(in_channels='backbone.feat_dim'),
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5] * 3,
                           std=[64.0] * 3))


def bignas(**kwargs):
    torch.manual_seed(0)
    return build_algorithm(dict(type='gml.BigNAS', model=SUPERNET,
                                mutator=dict(type='gml.StateslessMutator',
                                             seed=0), **kwargs))


def batch(n=8):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    return dict(inputs=[torch.randint(0, 255, (3, 16, 16), generator=g)
                        .float() for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(n)])


class CountingSGD(torch.optim.SGD):
    steps = 0
    zero_grads = 0

    def step(self, closure=None):
        CountingSGD.steps += 1
        return super().step(closure)

    def zero_grad(self, set_to_none=True):
        CountingSGD.zero_grads += 1
        return super().zero_grad(set_to_none)


def test_sandwich_strategies():
    assert sandwich_kinds('sandwich4') == ['max', 'random', 'random', 'min']
    assert sandwich_kinds('sandwish4') == ['max', 'random', 'random', 'min']
    assert sandwich_kinds('sandwich2') == ['max', 'min']
    for bad in ('sandwich1', 'random4', 'sandwich'):
        with pytest.raises(ConfigError, match='algorithm.strategy'):
            sandwich_kinds(bad)


def test_one_optimizer_step_and_one_clip_per_batch(monkeypatch):
    algo = bignas(strategy='sandwich4', drop_ratio=0.2)
    CountingSGD.steps = CountingSGD.zero_grads = 0
    wrapper = OptimWrapper(CountingSGD(algo.parameters(), lr=0.1),
                           clip_grad=dict(max_norm=1.0))
    clips = []
    original = wrapper._clip_grad
    monkeypatch.setattr(wrapper, '_clip_grad',
                        lambda: (clips.append(1), original())[1])
    seen = []
    algo.model.head.register_forward_pre_hook(
        lambda mod, args: seen.append((dict(algo.model.backbone.active),
                                       mod.dropout.p)))
    log = algo.train_step(batch(), wrapper)
    assert CountingSGD.steps == 1 and CountingSGD.zero_grads == 1
    assert len(clips) == 1
    assert set(log) == {'loss_0_max', 'loss_1_random', 'loss_2_random',
                        'loss_3_min', 'loss'}
    assert len(seen) == 4
    assert seen[0][0] == dict(widths=[8, 16], kernel=5)   # max first
    assert seen[-1][0] == dict(widths=[4, 8], kernel=3)   # min last
    assert [p for _, p in seen] == [0.2, 0.0, 0.0, 0.0]   # dropout: max only
    assert algo.model.head.dropout.p == 0.0               # and off afterwards
    assert algo.model.backbone.active == dict(widths=[8, 16], kernel=5)


def test_min_subnet_soft_loss_leaves_max_only_weights_untouched():
    algo = bignas()
    model = algo.model
    x = algo.data_preprocessor(batch(), True)['inputs']
    model.set_subnet(algo.mutator.sample('max'))
    teacher = algo.subnet_logits(x).detach()
    assert not teacher.requires_grad
    algo.zero_grad()
    model.set_subnet(algo.mutator.sample('min'))
    loss = model.head.soft_loss_of(algo.subnet_logits(x), teacher)
    loss.backward()
    conv2 = model.backbone.conv2.weight.grad
    assert conv2[8:].abs().sum() == 0          # output channels beyond min
    assert conv2[:8, 4:].abs().sum() == 0      # inputs beyond min width
    assert conv2[:8, :4, 1:4, 1:4].abs().sum() > 0   # the used 3x3 centre
    assert conv2[:8, :4, 0].abs().sum() == 0   # the 5x5 border is unused
    assert model.head.fc.weight.grad[:, 8:].abs().sum() == 0


def test_hard_distiller_mode_uses_labels_for_every_subnet():
    cfg = dict(SUPERNET, head=dict(SUPERNET['head'], distiller_mode='hard'))
    torch.manual_seed(0)
    algo = build_algorithm(dict(type='gml.BigNAS', model=cfg,
                                strategy='sandwich2'))
    log = algo.train_step(batch(), OptimWrapper(
        torch.optim.SGD(algo.parameters(), lr=0.1)))
    assert set(log) == {'loss_0_max', 'loss_1_min', 'loss'}


def test_bad_settings_are_clear():
    with pytest.raises(ConfigError, match='algorithm.drop_ratio'):
        bignas(drop_ratio=1.5)
    with pytest.raises(ConfigError, match='not a supernet'):
        build_algorithm(dict(type='gml.BigNAS', model=dict(
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10,
                      in_channels=512))))


def test_a_head_narrower_than_the_max_subnet_fails_at_build():
    narrow = dict(SUPERNET, head=dict(SUPERNET['head'], in_channels=8))
    with pytest.raises(ConfigError, match=r'model\.head\.in_channels: 8 is '
                       r'below the largest backbone\.feat_dim of the '
                       r'supernet \(16, its max subnet\); set it to 16'):
        build_algorithm(dict(type='gml.BigNAS', model=narrow))
