"""MobileNetV3Slice: FLOPs of the reference subnets, export, slicing."""
import random

import pytest
import torch
import torch.nn as nn

from gml.errors import ConfigError
from gml.models.backbones import MobileNetV3Slice
from gml.models.ops import SLICE_OPS, LinearSlice, count_flops
from gml.space import sample_of


class _Classifier(nn.Module):
    """backbone -> global pool -> LinearSlice(1984, 1000)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.fc = LinearSlice(1984, 1000)

    def forward(self, x):
        return self.fc(self.backbone(x)[0].mean((2, 3)))


def _config(width, depth, kernel, expand, last):
    """A config from per-stage lists of mb1..mb7 (AttentiveNAS form)."""
    return dict(MB_stage_blocks=[1] + depth + [1],
                MB_kernel_size=[3] + kernel + [1],
                MB_expand_ratio=[1] + expand + [6],
                MB_out_channels=width + [last])


# The AttentiveNAS Pareto models A0 (= the min subnet) to A6, as
# (resolution, config, MFLOPs), taken from the eval config of the
# AttentiveNAS repository. Width lists start with the first conv, then
# mb1..mb7; the last conv width is passed separately. The MFLOPs are
# computed from the formula, not with gml: conv MACs
# c_in * c_out * k * k * H_out * W_out / groups for every conv, SE as its
# two 1x1 convs, a 1x1 shortcut only where the width changes, the v3 head
# (1x1 expand to 6x the last stage width, 1x1 feature mix to the last conv
# width) and the classifier. That gives A0 = 203.39 and A1 = 279.24 (pinned
# to two decimals) and A2..A6 = 316.7, 356.5, 443.5, 490.5, 709.0, which
# round to the AttentiveNAS README's 203 / 279 / 317 / 357 / 444 / 491 /
# 709 MFLOPs. (MMRazor's counter reports other numbers, e.g. 212 for A0.)
A0 = (192, _config([16, 16, 24, 32, 64, 112, 192, 216], [1, 3, 3, 3, 3, 3, 1],
                   [3] * 7, [1, 4, 4, 4, 4, 6, 6], 1792), 203.39)
A1 = (224, _config([16, 16, 24, 32, 64, 112, 192, 216], [1, 3, 3, 3, 3, 3, 1],
                   [3, 3, 3, 5, 3, 5, 3], [1, 4, 4, 4, 4, 6, 6], 1984), 279.24)
A2 = (224, _config([16, 16, 24, 32, 64, 112, 200, 224], [1, 3, 3, 3, 3, 4, 1],
                   [3, 3, 3, 3, 3, 5, 3], [1, 4, 5, 4, 4, 6, 6], 1984), 316.7)
A3 = (224, _config([16, 16, 24, 32, 64, 112, 208, 224], [2, 3, 3, 4, 3, 5, 1],
                   [3, 3, 3, 5, 3, 3, 3], [1, 4, 4, 4, 4, 6, 6], 1984), 356.5)
A4 = (256, _config([16, 16, 24, 32, 64, 112, 192, 216], [1, 3, 3, 4, 3, 5, 1],
                   [3, 3, 3, 5, 3, 5, 3], [1, 4, 4, 5, 4, 6, 6], 1984), 443.5)
A5 = (256, _config([16, 16, 24, 32, 72, 112, 192, 216], [1, 3, 3, 3, 4, 6, 1],
                   [3, 3, 3, 5, 3, 3, 3], [1, 4, 5, 4, 4, 6, 6], 1792), 490.5)
A6 = (288, _config([16, 16, 24, 32, 64, 112, 216, 224], [1, 3, 3, 4, 4, 6, 1],
                   [3, 3, 3, 3, 3, 5, 3], [1, 4, 6, 5, 4, 6, 6], 1984), 709.0)
ATTENTIVE_NAS = dict(A0=A0, A1=A1, A2=A2, A3=A3, A4=A4, A5=A5, A6=A6)


@pytest.fixture(scope='module')
def supernet():
    torch.manual_seed(0)
    model = MobileNetV3Slice()
    # Random BN affine parameters and statistics, so every branch matters
    # (the zero-initialised last gammas would hide the main branches).
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _flops(model, config, res):
    model.set_subnet(config)
    return count_flops(_Classifier(model), (1, 3, res, res))['flops']


def test_default_space_and_zero_gamma():
    model = MobileNetV3Slice()
    assert [s.max for s in model.search_space['MB_stage_blocks']] == \
        [1, 2, 5, 6, 6, 8, 8, 2, 1]
    assert model.search_space['MB_out_channels'][6].grid() == \
        [192, 200, 208, 216]
    assert len(model.blocks) == 37
    assert all(float(b.project[1].weight.abs().sum()) == 0
               for b in model.blocks)
    assert model.feat_dim == 1984


def test_flops_reference(supernet):
    assert _flops(supernet, supernet.min_subnet(), 192) == \
        pytest.approx(203.39, abs=0.05)
    assert _flops(supernet, supernet.min_subnet(), 224) == \
        pytest.approx(274.46, abs=0.05)
    assert _flops(supernet, supernet.max_subnet(), 288) == \
        pytest.approx(1939.34, abs=0.05)
    assert A0[1] == supernet.min_subnet()


@pytest.mark.parametrize('name', sorted(ATTENTIVE_NAS))
def test_flops_attentive_nas_models(supernet, name):
    res, config, flops = ATTENTIVE_NAS[name]
    assert _flops(supernet, config, res) == pytest.approx(flops, abs=0.05)


def _has_slice_ops(module):
    return any(isinstance(m, SLICE_OPS) for m in module.modules())


@pytest.mark.parametrize('which', ['max', 'min', 'random'])
def test_to_static_matches(supernet, which):
    config = dict(max=supernet.max_subnet(), min=supernet.min_subnet(),
                  random=sample_of(supernet.search_space, 3))[which]
    supernet.set_subnet(config)
    static = supernet.to_static().eval()
    assert not _has_slice_ops(static)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, = supernet(x)
        got, = static(x)
    assert expected.shape[1] == supernet.feat_dim == \
        config['MB_out_channels'][-1]
    assert torch.equal(expected, got)
    # The exported subnet counts the same FLOPs.
    assert count_flops(static, (1, 3, 64, 64)) == \
        count_flops(supernet, (1, 3, 64, 64))


def test_illegal_values():
    model = MobileNetV3Slice()
    config = model.max_subnet()
    config['MB_out_channels'][3] = 48
    with pytest.raises(ConfigError, match=r'MB_out_channels\[3\]'):
        model.set_subnet(config)
    config = model.max_subnet()
    config['MB_kernel_size'][2] = 7
    with pytest.raises(ConfigError, match=r'MB_kernel_size\[2\]'):
        model.set_subnet(config)
    space = dict(MB_kernel_size=[3] + [dict(type='Categorical', data=[3, 4])]
                 * 7 + [1])
    with pytest.raises(ConfigError, match=r'MB_kernel_size\[1\]'):
        MobileNetV3Slice(search_space=space)
    space = dict(MB_stage_blocks=[2] + [1] * 8)
    with pytest.raises(ConfigError, match=r'MB_stage_blocks\[0\]'):
        MobileNetV3Slice(search_space=space)
    # 9 entries or the guide's 2 (first conv, last conv); nothing between
    with pytest.raises(ConfigError, match=r'MB_out_channels: expected a '
                       r'list of 9 .* or of 2 \(first conv, last conv\)'):
        MobileNetV3Slice(search_space=dict(MB_out_channels=[16, 24, 1984]))
    with pytest.raises(ConfigError, match='MB_depth'):
        MobileNetV3Slice(search_space=dict(MB_depth=[]))


def test_min_subnet_gradient_leaves_max_only_slices(supernet):
    supernet.set_subnet(supernet.min_subnet())
    supernet.zero_grad()
    out, = supernet(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    mix = supernet.feature_mix[0].weight.grad
    assert mix[1792:].abs().sum() == 0 and mix[:1792].abs().sum() > 0
    first = supernet.first_conv[0].weight.grad
    assert first[16:].abs().sum() == 0 and first[:16].abs().sum() > 0
    dw = supernet.blocks[2].depthwise[0].weight.grad  # mb2, kernel 3 of 5
    assert dw[:, :, 0].abs().sum() == 0 and dw[:, :, 1:4, 1:4].abs().sum() > 0
    # Blocks beyond the min depth get no gradient at all.
    assert supernet.blocks[1].depthwise[0].weight.grad is None
    supernet.zero_grad(set_to_none=True)


def test_drop_path_last_two_stages_only():
    torch.manual_seed(0)
    model = MobileNetV3Slice(drop_path_ratio=0.2)
    rates = [b.drop_path.prob for b in model.blocks]
    last_two = model.stage_blocks[-2] + model.stage_blocks[-1]
    for i, rate in enumerate(rates):
        expected = 0.2 * i / 37 if i in last_two else 0.0
        assert rate == pytest.approx(expected)
    with torch.no_grad():
        for b in model.blocks:
            b.project[1].weight.fill_(1.0)
    model.set_subnet(model.min_subnet())
    model.train()
    outputs = {}
    hooks = [model.blocks[i].register_forward_hook(
        lambda m, a, o, i=i: outputs.setdefault(i, []).append(o))
        for i in range(len(model.blocks))]
    x = torch.randn(8, 3, 32, 32)

    def run(enabled, seed):
        outputs.clear()
        model.set_drop_path(0.2 if enabled else 0.0)
        torch.manual_seed(seed)
        with torch.no_grad():
            return model(x)[0]

    assert torch.equal(run(False, 1), run(False, 2))
    stage4_end = model.stage_blocks[4][2]  # last active block of mb5
    early_a = run(True, 1)
    early_a_feat = outputs[stage4_end][0]
    early_b = run(True, 2)
    assert torch.equal(early_a_feat, outputs[stage4_end][0])
    assert not torch.equal(early_a, early_b)
    for h in hooks:
        h.remove()
    model.eval()
    assert torch.equal(run(True, 1), run(True, 2))


def test_feat_dim_and_registry():
    from gml.registry import MODELS
    model = MODELS.build(dict(type='gml.MobileNetV3Slice',
                              conv_cfg=dict(type='Conv2dSlice'),
                              bn_momentum=0.0))
    assert model.first_conv[1].momentum == 0.0
    config = model.min_subnet()
    config['MB_out_channels'][-1] = 1984
    model.set_subnet(config)
    assert model.feat_dim == 1984
    rng = random.Random(0)
    for _ in range(3):
        config = sample_of(model.search_space, rng)
        model.set_subnet(config)
        assert model.feat_dim == config['MB_out_channels'][-1]


def test_a_backbone_without_stages_refuses_frozen_stages():
    model = MobileNetV3Slice()
    model.frozen_stages = 1  # as a subclass without stages might set it
    with pytest.raises(ConfigError, match=r"^backbone\.frozen_stages: "
                       r"MobileNetV3Slice has no stages to freeze; expected "
                       r"-1, found 1$"):
        model.train()
