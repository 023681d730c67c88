"""Slice ops: exact equalities with plain ops, exports, gradients, FLOPs."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gml.errors import ConfigError
from gml.models.ops import (BatchNorm2dSlice, Conv2dSlice, FlopsCounter,
                            LinearSlice, ResizeSlice, SqueezeExcite,
                            SqueezeExciteSlice, center_crop_kernel,
                            count_flops, make_divisible)
from gml.registry import MODELS


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """The tensors here are small: extra threads only spin on a busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=gen(seed))


def randomise(module, seed=0):
    """Give every parameter and BN buffer non-trivial values."""
    g = gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(
                    torch.rand(m.num_features, generator=g) + 0.5)
    return module


# -- make_divisible and the kernel crop --------------------------------------

@pytest.mark.parametrize('v,expected', [
    (32, 32), (10, 16), (17, 16), (18, 24), (35, 32), (36, 40), (3, 8),
    (0.5, 8), (120 // 4, 32), (1984, 1984), (16 * 0.75, 16)])
def test_make_divisible_default_floor(v, expected):
    assert make_divisible(v) == expected


def test_make_divisible_floor_and_divisor():
    # Floor 1 (slimmable / AttentiveNAS) differs only below divisor / 2.
    assert make_divisible(3, 8, min_value=1) == 9
    assert make_divisible(1, 8, min_value=1) == 1
    assert make_divisible(4, 8, min_value=1) == 8
    assert make_divisible(20, 8, min_value=1) == make_divisible(20) == 24
    assert make_divisible(30, 16) == 32
    assert make_divisible(22, 4) == 24
    with pytest.raises(ConfigError, match='divisor'):
        make_divisible(10, 0)


def test_center_crop_kernel():
    w = torch.arange(2 * 25.).reshape(2, 1, 5, 5)
    assert torch.equal(center_crop_kernel(w, 3), w[..., 1:4, 1:4])
    assert torch.equal(center_crop_kernel(w, 1), w[..., 2:3, 2:3])
    assert center_crop_kernel(w, 5) is w
    for bad in (4, 7, 0):
        with pytest.raises(ConfigError, match='5x5'):
            center_crop_kernel(w, bad)


# -- Conv2dSlice -------------------------------------------------------------

def plain_conv(op):
    conv = nn.Conv2d(op.in_channels, op.out_channels, op.kernel_size,
                     op.stride, op.padding, op.dilation, op.groups,
                     bias=op.bias is not None)
    conv.load_state_dict(op.state_dict())
    return conv


@pytest.mark.parametrize('kwargs', [
    dict(in_channels=8, out_channels=16, kernel_size=3),
    dict(in_channels=8, out_channels=16, kernel_size=5, stride=2, bias=True),
    dict(in_channels=16, out_channels=16, kernel_size=5, groups=16),
    dict(in_channels=8, out_channels=8, kernel_size=3, dilation=2),
    dict(in_channels=8, out_channels=12, kernel_size=1)])
def test_conv_full_config_is_plain_conv(kwargs):
    op = randomise(Conv2dSlice(**kwargs))
    x = randn(2, kwargs['in_channels'], 13, 13)
    expected = plain_conv(op)(x)
    assert torch.equal(op(x), expected)
    assert torch.equal(op.to_static()(x), expected)
    assert op.active_config() == dict(out_channels=kwargs['out_channels'],
                                      kernel_size=kwargs['kernel_size'])


@pytest.mark.parametrize('stride', [1, 2])
def test_conv_sub_width_equals_sliced_weights_and_export(stride):
    op = randomise(Conv2dSlice(8, 16, 3, stride=stride, bias=True))
    op.set_active(out_channels=10)
    x = randn(2, 5, 12, 12)
    out = op(x)
    expected = F.conv2d(x, op.weight[:10, :5], op.bias[:10], stride, 1)
    assert out.shape == (2, 10, 12 // stride, 12 // stride)
    assert torch.equal(out, expected)
    static = op.to_static()
    assert type(static) is nn.Conv2d
    assert (static.in_channels, static.out_channels) == (5, 10)
    assert torch.equal(static(x), out)


def test_conv_kernel_crop_5_to_3():
    op = randomise(Conv2dSlice(8, 16, 5))
    op.set_active(out_channels=12, kernel_size=3)
    x = randn(2, 6, 11, 11)
    out = op(x)
    expected = F.conv2d(x, op.weight[:12, :6, 1:4, 1:4], padding=1)
    assert torch.equal(out, expected)
    static = op.to_static()
    assert static.kernel_size == (3, 3) and static.padding == (1, 1)
    assert torch.equal(static(x), out)
    op.set_active(kernel_size=1)
    assert torch.equal(op(x), F.conv2d(x, op.weight[:, :6, 2:3, 2:3]))
    assert op.active_config() == dict(out_channels=16, kernel_size=1)


def test_depthwise_sub_width_and_kernel():
    op = randomise(Conv2dSlice(32, 32, 5, stride=2, groups=32))
    op.set_active(kernel_size=3)
    x = randn(2, 20, 14, 14)
    out = op(x)
    expected = F.conv2d(x, op.weight[:20, :1, 1:4, 1:4], stride=2,
                        padding=1, groups=20)
    assert out.shape == (2, 20, 7, 7)
    assert torch.equal(out, expected)
    static = op.to_static()
    assert static.groups == 20 and static.weight.shape == (20, 1, 3, 3)
    assert torch.equal(static(x), out)
    # The active width of a depthwise conv must match its input.
    op.set_active(out_channels=24, kernel_size=3)
    assert op.to_static().in_channels == 24
    with pytest.raises(ValueError, match='depthwise'):
        op(x)


def test_conv_dilated_sub_kernel_keeps_same_padding():
    op = randomise(Conv2dSlice(4, 4, 5, dilation=2))
    op.set_active(kernel_size=3)
    x = randn(1, 4, 9, 9)
    out = op(x)
    assert out.shape == x.shape
    assert torch.equal(out, F.conv2d(x, op.weight[..., 1:4, 1:4], padding=2,
                                     dilation=2))
    assert torch.equal(op.to_static()(x), out)


def test_conv_gradient_isolation():
    op = randomise(Conv2dSlice(8, 16, 5, bias=True))
    op.set_active(out_channels=6, kernel_size=3)
    x = randn(2, 5, 9, 9)
    loss = (op(x) ** 2).mean()
    loss.backward()
    grad = op.weight.grad
    assert torch.count_nonzero(grad[6:]) == 0
    assert torch.count_nonzero(grad[:, 5:]) == 0
    border = grad[:6, :5].clone()
    border[..., 1:4, 1:4] = 0
    assert torch.count_nonzero(border) == 0
    assert torch.count_nonzero(grad[:6, :5, 1:4, 1:4]) == 6 * 5 * 9
    assert torch.count_nonzero(op.bias.grad[6:]) == 0
    assert torch.count_nonzero(op.bias.grad[:6]) == 6


def test_conv_errors():
    op = Conv2dSlice(8, 64, 5)
    with pytest.raises(ConfigError, match=r'Conv2dSlice.set_active: '
                       r'kernel_size 7 > the 5x5 weights it holds'):
        op.set_active(kernel_size=7)
    with pytest.raises(ConfigError, match='kernel_size 4 is no centred crop'):
        op.set_active(kernel_size=4)
    with pytest.raises(ConfigError, match='out_channels 80 > the 64'):
        op.set_active(out_channels=80)
    with pytest.raises(ConfigError, match='out_channels'):
        op.set_active(out_channels=0)
    with pytest.raises(ValueError, match='9 channels.*at most 8'):
        op(torch.zeros(1, 9, 5, 5))
    with pytest.raises(ConfigError, match='groups'):
        Conv2dSlice(8, 8, 3, groups=2)
    with pytest.raises(ConfigError, match='depthwise'):
        Conv2dSlice(8, 16, 3, groups=8)
    with pytest.raises(ConfigError, match='in_channels'):
        op.to_static(in_channels=9)


def test_set_active_none_means_largest():
    op = Conv2dSlice(8, 16, 5)
    op.set_active(out_channels=8, kernel_size=3)
    op.set_active()
    assert op.active_config() == dict(out_channels=16, kernel_size=5)


def test_registered_and_buildable():
    op = MODELS.build(dict(type='gml.Conv2dSlice', in_channels=3,
                           out_channels=8, kernel_size=3, stride=2))
    assert isinstance(op, Conv2dSlice) and op.stride == (2, 2)
    for name in ('LinearSlice', 'BatchNorm2dSlice', 'SqueezeExciteSlice',
                 'SqueezeExcite', 'ResizeSlice'):
        assert MODELS.get(f'gml.{name}') is not None


# -- LinearSlice -------------------------------------------------------------

def test_linear_full_and_sub_width():
    op = randomise(LinearSlice(32, 10))
    x = randn(4, 32)
    plain = nn.Linear(32, 10)
    plain.load_state_dict(op.state_dict())
    assert torch.equal(op(x), plain(x))
    op.set_active(out_features=7)
    x = randn(4, 20)
    out = op(x)
    assert torch.equal(out, F.linear(x, op.weight[:7, :20], op.bias[:7]))
    static = op.to_static()
    assert (static.in_features, static.out_features) == (20, 7)
    assert torch.equal(static(x), out)
    assert op.active_config() == dict(out_features=7)
    with pytest.raises(ConfigError, match='out_features 11 > the 10'):
        op.set_active(out_features=11)
    with pytest.raises(ValueError, match='at most 32'):
        op(torch.zeros(2, 33))


# -- BatchNorm2dSlice --------------------------------------------------------

def test_bn_full_width_is_plain_bn():
    op = randomise(BatchNorm2dSlice(8))
    plain = nn.BatchNorm2d(8)
    plain.load_state_dict(op.state_dict())
    x = randn(4, 8, 5, 5)
    assert torch.equal(op(x), plain(x))
    for name in ('running_mean', 'running_var', 'num_batches_tracked'):
        assert torch.equal(getattr(op, name), getattr(plain, name))
    op.eval(), plain.eval()
    assert torch.equal(op(x), plain(x))


def test_bn_train_changes_only_leading_stats():
    op = randomise(BatchNorm2dSlice(8, momentum=0.1))
    mean0, var0 = op.running_mean.clone(), op.running_var.clone()
    x = randn(4, 5, 6, 6, seed=1) * 2 + 1
    out = op(x)
    assert torch.equal(op.running_mean[5:], mean0[5:])
    assert torch.equal(op.running_var[5:], var0[5:])
    batch_mean = x.mean((0, 2, 3))
    batch_var = x.var((0, 2, 3), unbiased=True)
    assert torch.allclose(op.running_mean[:5],
                          0.9 * mean0[:5] + 0.1 * batch_mean, atol=1e-6)
    assert torch.allclose(op.running_var[:5],
                          0.9 * var0[:5] + 0.1 * batch_var, atol=1e-5)
    # Training output normalises with the batch's biased statistics.
    ref = (x - batch_mean[None, :, None, None]) / torch.sqrt(
        x.var((0, 2, 3), unbiased=False)[None, :, None, None] + op.eps)
    ref = ref * op.weight[None, :5, None, None] + op.bias[None, :5, None,
                                                          None]
    assert torch.allclose(out, ref, atol=1e-5)


def test_bn_eval_uses_sliced_stats_and_export():
    op = randomise(BatchNorm2dSlice(8)).eval()
    x = randn(3, 6, 4, 4)
    out = op(x)
    expected = F.batch_norm(x, op.running_mean[:6].clone(),
                            op.running_var[:6].clone(), op.weight[:6],
                            op.bias[:6], False, 0.0, op.eps)
    assert torch.equal(out, expected)
    static = op.to_static()
    assert type(static) is nn.BatchNorm2d and static.num_features == 6
    assert not static.training
    assert torch.equal(static(x), out)
    assert torch.equal(op.to_static(3)(x[:, :3]), op(x[:, :3]))


def test_bn_one_batch_recalibration_is_exact():
    op = randomise(BatchNorm2dSlice(8, momentum=None))
    before = op.running_mean[6:].clone()
    op.running_mean[:6].zero_()
    op.running_var[:6].fill_(1)
    op.num_batches_tracked.zero_()
    x = randn(8, 6, 5, 5, seed=3) * 3 - 2
    op(x)
    assert torch.allclose(op.running_mean[:6], x.mean((0, 2, 3)), atol=1e-6)
    assert torch.allclose(op.running_var[:6], x.var((0, 2, 3)), atol=1e-5)
    assert torch.equal(op.running_mean[6:], before)


def test_bn_export_train_mode_step_matches():
    op = randomise(BatchNorm2dSlice(8))
    x = randn(4, 5, 3, 3)
    op(x)
    static = op.to_static()
    x2 = randn(4, 5, 3, 3, seed=2)
    assert torch.equal(static(x2), op(x2))
    assert torch.equal(static.running_mean, op.running_mean[:5])
    assert torch.equal(static.running_var, op.running_var[:5])


# -- SqueezeExciteSlice ------------------------------------------------------

def test_se_full_config_and_sub_width():
    op = randomise(SqueezeExciteSlice(64))
    assert op.mid_channels == 16
    x = randn(2, 64, 7, 7)
    static = op.to_static()
    assert isinstance(static, SqueezeExcite)
    assert static.reduce.weight.shape == (16, 64, 1, 1)
    plain = SqueezeExcite(64, 16)
    plain.load_state_dict(op.state_dict())
    assert torch.equal(op(x), plain(x))
    assert torch.equal(static(x), plain(x))
    # 40 channels: mid = make_divisible(40 // 4 = 10, 8) = 16.
    x = randn(2, 40, 7, 7)
    out = op(x)
    s = F.relu(F.conv2d(x.mean((2, 3), keepdim=True),
                        op.reduce.weight[:16, :40], op.reduce.bias[:16]))
    gate = F.hardsigmoid(F.conv2d(s, op.expand.weight[:40, :16],
                                  op.expand.bias[:40]))
    assert torch.equal(out, x * gate)
    static = op.to_static()
    assert static.reduce.weight.shape == (16, 40, 1, 1)
    assert torch.equal(static(x), out)
    # 24 channels: mid = make_divisible(6, 8) = 8.
    x = randn(2, 24, 5, 5)
    out = op(x)
    static = op.to_static()
    assert static.expand.weight.shape == (24, 8, 1, 1)
    assert torch.equal(static(x), out)


def test_se_sigmoid_gate_and_errors():
    op = randomise(SqueezeExciteSlice(32, gate='sigmoid'))
    x = randn(1, 16, 3, 3)
    out = op(x)  # to_static() exports the width of the last input seen
    assert torch.equal(op.to_static()(x), out)
    assert op.to_static(32).reduce.weight.shape == (8, 32, 1, 1)
    with pytest.raises(ConfigError, match='gate'):
        SqueezeExciteSlice(32, gate='swish')
    with pytest.raises(ValueError, match='at most 32'):
        op(torch.zeros(1, 40, 3, 3))


# -- ResizeSlice -------------------------------------------------------------

def test_resize_bicubic_and_identity():
    op = ResizeSlice()
    assert op.resolution == 224
    x = randn(2, 3, 224, 224)
    assert op(x) is x
    op.set_active(192)
    out = op(x)
    assert out.shape == (2, 3, 192, 192)
    assert torch.equal(out, F.interpolate(x, size=(192, 192), mode='bicubic',
                                          align_corners=False))
    op.set_active()
    assert op.active_config() == dict(resolution=288)
    assert op.to_static().space.grid() == [288]


def test_resize_validates_against_space():
    op = ResizeSlice(dict(type='Int', lower=192, upper=289, step=32,
                          default=224))
    for bad in (200, 320, 160, '224'):
        with pytest.raises(ConfigError, match='resolution'):
            op.set_active(bad)
    fixed = ResizeSlice(160)
    with pytest.raises(ConfigError, match='resolution'):
        fixed.set_active(192)
    x = randn(1, 3, 32, 32)
    assert torch.equal(fixed(x), F.interpolate(x, size=(160, 160),
                                               mode='bicubic',
                                               align_corners=False))
    cat = ResizeSlice(dict(type='Categorical', data=[128, 160]))
    assert cat.resolution == 128
    with pytest.raises(ConfigError, match='resolution'):
        ResizeSlice(dict(type='Int', lower=0, upper=3))


# -- FLOPs counter -----------------------------------------------------------

def test_flops_torchvision_resnets():
    torchvision = pytest.importorskip('torchvision')
    r18 = count_flops(torchvision.models.resnet18(), units=None)
    assert r18['flops'] == 1_814_073_344
    assert r18['params'] == 11_679_912  # conv + fc weights and fc bias
    r50 = count_flops(torchvision.models.resnet50(), units='G')
    assert r50['flops'] == pytest.approx(4.089184256, abs=1e-12)


class _Block(nn.Module):
    """CIFAR basic block with a 1x1-conv shortcut when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


def cifar_resnet(depth, widths=(16, 32, 64), stem=16, classes=100):
    layers = [nn.Conv2d(3, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
              nn.ReLU()]
    cin = stem
    for i, width in enumerate(widths):
        for j in range((depth - 2) // 6):
            layers.append(_Block(cin, width, 2 if i and not j else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize('depth,widths,stem,mflops', [
    (20, (16, 32, 64), 16, 40.82), (56, (16, 32, 64), 16, 125.75),
    (8, (64, 128, 256), 32, 177.07)])
def test_flops_cifar_resnets(depth, widths, stem, mflops):
    result = count_flops(cifar_resnet(depth, widths, stem),
                         (1, 3, 32, 32))
    assert round(result['flops'], 2) == mflops
    if depth == 8:  # resnet8x4: 1.231 M conv + fc parameters
        assert round(result['params'], 3) == 1.231


def test_flops_counts_active_config():
    op = Conv2dSlice(16, 32, 5, bias=True)
    assert count_flops(op, (1, 16, 32, 32), None)['flops'] == \
        16 * 32 * 25 * 32 * 32
    op.set_active(out_channels=24, kernel_size=3)
    model = nn.Sequential(nn.Conv2d(3, 8, 1), op)
    result = count_flops(model, (1, 3, 32, 32), units=None)
    assert result['flops'] == 3 * 8 * 32 * 32 + 8 * 24 * 9 * 32 * 32
    assert result['params'] == (3 * 8 + 8) + (8 * 24 * 9 + 24)
    dw = Conv2dSlice(32, 32, 5, stride=2, groups=32)
    dw.set_active(kernel_size=3)
    model = nn.Sequential(op, dw)
    assert count_flops(model, (1, 16, 32, 32), None)['flops'] == \
        16 * 24 * 9 * 32 * 32 + 24 * 9 * 16 * 16
    # SE: two 1x1 convs at the active widths (24 -> 8 -> 24).
    se = SqueezeExciteSlice(32)
    assert count_flops(se, (1, 24, 7, 7), None)['flops'] == 2 * 24 * 8
    lin = LinearSlice(64, 10)
    lin.set_active(out_features=5)
    assert count_flops(lin, (3, 40), None) == dict(flops=3 * 40 * 5,
                                                   params=40 * 5 + 5)


def test_flops_resize_and_state_untouched():
    resize = ResizeSlice()
    resize.set_active(192)
    bn = BatchNorm2dSlice(8)
    model = nn.Sequential(resize, nn.Conv2d(3, 8, 3, padding=1, bias=False),
                          bn)
    assert count_flops(model, (1, 3, 224, 224), None)['flops'] == \
        3 * 8 * 9 * 192 * 192
    assert model.training and bn.training
    assert torch.equal(bn.running_mean, torch.zeros(8))
    assert int(bn.num_batches_tracked) == 0
    assert all(not m._forward_hooks for m in model.modules())


def test_flops_counter_uses_its_input_shape():
    conv = nn.Conv2d(3, 32, 3, padding=1)
    counter = FlopsCounter(input_shape=(1, 3, 64, 64))
    assert counter(conv)['flops'] == pytest.approx(3.538944, abs=1e-12)
    assert FlopsCounter((1, 3, 64, 64), units='G')(conv)['flops'] == \
        pytest.approx(0.003538944, abs=1e-15)
    with pytest.raises(ConfigError, match='units'):
        FlopsCounter(units='K')
    with pytest.raises(ConfigError, match='input_shape'):
        count_flops(conv, (1, 3, 0, 64))
