"""ResNetSlice: reference MACs, export equality, validation, gradients."""
import pytest
import torch
import torch.nn as nn

from gml.errors import ConfigError
from gml.models.backbones.resnet_slice import ResNetSlice
from gml.models.ops import SLICE_OPS, LinearSlice, count_flops
from gml.registry import MODELS


class Classifier(nn.Module):
    """Backbone + global average pooling + a linear classifier."""

    def __init__(self, backbone, in_features, classes=1000):
        super().__init__()
        self.backbone = backbone
        self.fc = LinearSlice(in_features, classes)

    def forward(self, x):
        return self.fc(self.backbone(x)[-1].mean((2, 3)))


def randomize_bn(model, seed=0):
    """Non-trivial BN parameters and statistics (zero-init gamma hides
    residual branches otherwise)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)


SMALL_SPACE = dict(
    stem_channels=dict(type='Categorical', data=[8, 16]),
    stage_out_channel=[
        dict(type='Categorical', data=[8, 16]),
        dict(type='Int', lower=16, upper=33, step=8),
        dict(type='Categorical', data=[24, 32]),
        48,
    ],
    stage_blocks=[
        dict(type='Int', lower=1, upper=3),
        2,
        dict(type='Categorical', data=[1, 2]),
        dict(type='Int', lower=1, upper=3),
    ])

BOTTLENECK_SPACE = dict(
    stem_channels=16,
    stage_out_channel=[
        dict(type='Categorical', data=[16, 32]),
        dict(type='Categorical', data=[32, 64]),
        64,
        dict(type='Categorical', data=[64, 96, 128]),
    ],
    stage_blocks=[
        dict(type='Int', lower=1, upper=4),
        dict(type='Int', lower=2, upper=5),
        dict(type='Int', lower=1, upper=7),
        dict(type='Int', lower=1, upper=4),
    ])


def test_resnet18_macs_match_reference():
    backbone = ResNetSlice(18)
    backbone.set_subnet(backbone.max_subnet())
    model = Classifier(backbone, backbone.feat_dim)
    assert backbone.feat_dim == 512
    assert count_flops(model, units=None)['flops'] == 1814073344
    # The reference includes the classifier's 512 * 1000 MACs.
    assert count_flops(backbone, units=None)['flops'] == \
        1814073344 - 512 * 1000


def test_resnet50_macs_match_reference():
    backbone = ResNetSlice(50)
    model = Classifier(backbone, backbone.feat_dim)
    assert backbone.feat_dim == 2048
    assert count_flops(model, units=None)['flops'] == 4089184256


def test_registry_builds_with_defaults():
    model = MODELS.build(dict(type='gml.ResNetSlice', depth=18))
    assert isinstance(model, ResNetSlice)
    assert model.search_space['stage_out_channel'] == [64, 128, 256, 512]
    assert model.search_space['stage_blocks'] == [2, 2, 2, 2]
    assert model.max_subnet() == model.min_subnet()


def _check_static(model, config, x):
    model.set_subnet(config)
    model.eval()
    static = model.to_static()
    assert not any(isinstance(m, SLICE_OPS) for m in static.modules())
    with torch.no_grad():
        outs = model(x)
        static_outs = static(x)
    assert len(outs) == len(static_outs) == len(model.out_indices)
    for a, b in zip(outs, static_outs):
        assert a.shape == b.shape
        assert torch.equal(a, b)
    assert outs[-1].shape[1] == model.feat_dim == static.feat_dim
    want = sum(config['stage_blocks'])
    assert sum(len(stage) for stage in static.stages) == want


@pytest.mark.parametrize('depth,space', [(18, SMALL_SPACE),
                                         (50, BOTTLENECK_SPACE)])
def test_to_static_equals_supernet(depth, space):
    torch.manual_seed(0)
    model = ResNetSlice(depth, search_space=space, cifar_stem=True)
    randomize_bn(model)
    x = torch.randn(2, 3, 16, 16)
    configs = [model.max_subnet(), model.min_subnet()] + \
        [model.random_subnet(seed) for seed in range(3)]
    for config in configs:
        _check_static(model, config, x)


def test_imagenet_stem_and_out_indices():
    torch.manual_seed(0)
    model = ResNetSlice(18, search_space=SMALL_SPACE, out_indices=(1, 2))
    randomize_bn(model, seed=1)
    x = torch.randn(1, 3, 32, 32)
    _check_static(model, model.random_subnet(7), x)
    outs = model(x)
    assert [o.shape[-1] for o in outs] == [4, 2]
    assert model.feat_dim == model.active_subnet['stage_out_channel'][2]


def test_illegal_values_raise_naming_the_key():
    with pytest.raises(ConfigError, match=r'stage_blocks\[2\]'):
        ResNetSlice(18, search_space=dict(
            stage_blocks=[2, 2, dict(type='Categorical', data=[1, 3]), 2]))
    with pytest.raises(ConfigError, match=r'stage_out_channel\[1\]'):
        ResNetSlice(50, search_space=dict(
            stage_out_channel=[256, 510, 1024, 2048]))
    with pytest.raises(ConfigError, match='stage_out_channel'):
        ResNetSlice(18, search_space=dict(stage_out_channel=[64, 128]))
    with pytest.raises(ConfigError, match='stem_channel'):
        ResNetSlice(18, search_space=dict(stem_channel=32))
    with pytest.raises(ConfigError, match='depth'):
        ResNetSlice(20)

    model = ResNetSlice(18, search_space=SMALL_SPACE, cifar_stem=True)
    too_wide = model.max_subnet()
    too_wide['stage_out_channel'][2] = 64
    with pytest.raises(ConfigError, match=r'stage_out_channel\[2\]'):
        model.set_subnet(too_wide)
    too_deep = model.max_subnet()
    too_deep['stage_blocks'][0] = 3
    with pytest.raises(ConfigError, match=r'stage_blocks\[0\]'):
        model.set_subnet(too_deep)
    fixed = model.max_subnet()
    fixed['stage_out_channel'][3] = 32
    with pytest.raises(ConfigError, match=r'stage_out_channel\[3\]'):
        model.set_subnet(fixed)


def test_sub_width_leaves_unused_slices_without_gradient():
    torch.manual_seed(0)
    model = ResNetSlice(18, search_space=SMALL_SPACE, cifar_stem=True,
                        zero_init_residual=False)
    config = model.min_subnet()
    model.set_subnet(config)
    model.train()
    model(torch.randn(2, 3, 16, 16))[-1].sum().backward()

    stem = model.stem[0].weight.grad
    assert stem[:8].abs().sum() > 0 and torch.all(stem[8:] == 0)
    conv = model.stages[0][0].convs[0]
    assert conv.weight.grad[:8, :8].abs().sum() > 0
    assert torch.all(conv.weight.grad[8:] == 0)
    assert torch.all(conv.weight.grad[:, 8:] == 0)
    shortcut = model.stages[1][0].shortcut[0].weight.grad
    assert torch.all(shortcut[16:] == 0) and torch.all(shortcut[:, 8:] == 0)
    bn = model.stages[0][0].bns[0]
    assert torch.all(bn.weight.grad[8:] == 0)
    # Blocks beyond the active depth never ran.
    assert all(p.grad is None for p in model.stages[0][1].parameters())
    assert all(p.grad is not None for p in model.stages[1][1].parameters())


def test_zero_init_residual_and_drop_path():
    model = ResNetSlice(18, search_space=SMALL_SPACE, cifar_stem=True,
                        drop_path_ratio=0.5)
    for stage in model.stages:
        for block in stage:
            assert torch.all(block.bns[-1].weight == 0)
    assert model.stages[0][0].drop_path.prob == 0.0
    assert model.stages[3][1].drop_path.prob == 0.5 * 7 / 8
    randomize_bn(model)
    model.train()
    x = torch.randn(4, 3, 8, 8)
    model.set_drop_path(0.0)
    torch.manual_seed(1)
    a = model(x)[-1]
    torch.manual_seed(2)
    b = model(x)[-1]
    assert torch.allclose(a, b)
    model.set_drop_path(0.5)
    torch.manual_seed(3)
    c = model(x)[-1]
    assert not torch.allclose(a, c)


def test_bn_momentum_and_frozen_stages():
    model = ResNetSlice(18, search_space=SMALL_SPACE, cifar_stem=True,
                        bn_momentum=0.0, frozen_stages=1)
    assert all(m.momentum == 0.0 for m in model.modules()
               if isinstance(m, nn.BatchNorm2d))
    model.train()
    assert not model.stem.training and not model.stages[0].training
    assert model.stages[1].training
    assert all(not p.requires_grad for p in model.stages[0].parameters())
