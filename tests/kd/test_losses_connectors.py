"""Distillation losses and connectors: values, gradients, shapes."""
import math

import pytest
import torch
import torch.nn.functional as F

import gml.models.connectors  # noqa: F401  (registers the connectors)
import gml.models.losses  # noqa: F401  (registers the losses)
from gml.errors import ConfigError
from gml.models.connectors import (ConvConnector, FitNetRegressor,
                                   IdentityConnector, Paraphraser,
                                   Translator)
from gml.models.losses import (ABLoss, ChannelWiseDivergence, FTLoss,
                               HintLoss, KDLoss, SoftCrossEntropyLoss)
from gml.registry import MODELS

LN3 = math.log(3.0)


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """The tensors here are tiny: extra threads only spin on a busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def logits(*rows):
    return torch.tensor(rows, dtype=torch.float64)


# -- KD ----------------------------------------------------------------------
def test_kd_reference_values():
    # KD = T^2 KL(softmax(t/T) || softmax(s/T)), student uniform [1/2, 1/2].
    # T = 1: the teacher [ln 3, 0] gives [3/4, 1/4];
    #   KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.1308120359...
    # T = 4: the teacher gives [r, 1 - r] with r = 3^(1/4) / (3^(1/4) + 1)
    #   = 0.5682341...; 16 (r ln 2r + (1 - r) ln 2(1 - r)) = 0.1494578...
    assert 0.75 * math.log(1.5) + 0.25 * math.log(0.5) == pytest.approx(
        0.130812036, abs=1e-9)
    r = 3 ** 0.25 / (3 ** 0.25 + 1)
    assert 16 * (r * math.log(2 * r) + (1 - r) * math.log(2 * (1 - r))) \
        == pytest.approx(0.149457865, abs=1e-9)
    s, t = logits([0.0, 0.0]), logits([LN3, 0.0])
    assert KDLoss(temperature=1.0)(s, t).item() == pytest.approx(
        0.130812036, abs=1e-9)
    assert KDLoss(temperature=4.0)(s, t).item() == pytest.approx(
        0.149457865, abs=1e-9)


@pytest.mark.parametrize('temperature', [0.5, 1.0, 4.0, 10.0])
def test_kd_zero_at_identical_logits(temperature):
    z = torch.randn(5, 7, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    assert KDLoss(temperature)(z, z.clone()).item() == pytest.approx(
        0.0, abs=1e-12)
    # float32: zero up to rounding (scaled by T^2).
    assert KDLoss(temperature)(z.float(), z.float()).item() == \
        pytest.approx(0.0, abs=1e-7 * temperature ** 2)
    # ... and the gradient is exactly zero there.
    s = z.clone().requires_grad_(True)
    KDLoss(temperature)(s, z).backward()
    assert s.grad.abs().max().item() < 1e-15


@pytest.mark.parametrize('temperature', [1.0, 4.0])
def test_kd_gradient_formula_and_teacher_isolation(temperature):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 5, generator=g, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(6, 5, generator=g, dtype=torch.float64,
                    requires_grad=True)
    KDLoss(temperature)(s, t).backward()
    T = temperature
    expected = T * (F.softmax(s.detach() / T, 1)
                    - F.softmax(t.detach() / T, 1)) / s.shape[0]
    torch.testing.assert_close(s.grad, expected)
    assert t.grad is None or torch.count_nonzero(t.grad) == 0


def test_kd_is_batchmean_not_elementwise_mean():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(3, 4, generator=g, dtype=torch.float64)
    t = torch.randn(3, 4, generator=g, dtype=torch.float64)
    T = 2.0
    total = 0.0
    for b in range(3):
        p = F.softmax(t[b] / T, 0)
        q = F.softmax(s[b] / T, 0)
        total += float((p * (p / q).log()).sum())
    value = KDLoss(temperature=T)(s, t).item()
    assert value == pytest.approx(T * T * total / 3, rel=1e-12)
    assert value != pytest.approx(T * T * total / 12, rel=1e-3)


# -- soft CE -----------------------------------------------------------------
def test_soft_ce_is_teacher_entropy_at_identical_logits():
    # softmax([ln 3, 0]) = [3/4, 1/4]: entropy 3/4 ln(4/3) + 1/4 ln 4
    #   = 0.5623351446...
    assert 0.75 * math.log(4 / 3) + 0.25 * math.log(4) == pytest.approx(
        0.562335145, abs=1e-9)
    z = logits([LN3, 0.0])
    assert SoftCrossEntropyLoss()(z, z.clone()).item() == pytest.approx(
        0.562335145, abs=1e-9)


def test_soft_ce_probability_targets_and_temperature():
    g = torch.Generator().manual_seed(4)
    s = torch.randn(4, 6, generator=g, dtype=torch.float64)
    t = torch.randn(4, 6, generator=g, dtype=torch.float64)
    from_logits = SoftCrossEntropyLoss()(s, t)
    from_probs = SoftCrossEntropyLoss(target_is_prob=True)(
        s, F.softmax(t, 1))
    torch.testing.assert_close(from_logits, from_probs)
    # T != 1: T^2 * CE of the softened distributions; CE - entropy = KD.
    T = 3.0
    p = F.softmax(t / T, 1)
    entropy = -(p * p.log()).sum(1).mean() * T * T
    torch.testing.assert_close(
        SoftCrossEntropyLoss(temperature=T)(s, t) - entropy,
        KDLoss(temperature=T)(s, t))


def test_soft_ce_student_gradient_and_no_teacher_gradient():
    g = torch.Generator().manual_seed(9)
    s = torch.randn(2, 3, generator=g, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(2, 3, generator=g, dtype=torch.float64,
                    requires_grad=True)
    SoftCrossEntropyLoss()(s, t).backward()
    # d/ds of -(1/B) sum p_t log softmax(s) is (softmax(s) - p_t) / B
    expected = (F.softmax(s.detach(), 1) - F.softmax(t.detach(), 1)) / 2
    torch.testing.assert_close(s.grad, expected)
    assert t.grad is None or torch.count_nonzero(t.grad) == 0


# -- AB ----------------------------------------------------------------------
# AB loss with margin m = 1 against the teacher [1, -1]: (s - m)^2 where the
# teacher is positive and s < m, (s + m)^2 where it is not and s > -m.
# [2, -2]: both beyond the margin, 0. [0.5, -0.5]: 0.5^2 + 0.5^2 = 0.5.
# [-2, 2]: 3^2 + 3^2 = 18.
@pytest.mark.parametrize('student, expected', [
    ([2.0, -2.0], 0.0), ([0.5, -0.5], 0.5), ([-2.0, 2.0], 18.0)])
def test_ab_reference_values(student, expected):
    s = torch.tensor([student], requires_grad=True)
    t = torch.tensor([[1.0, -1.0]], requires_grad=True)
    loss = ABLoss(margin=1.0)(s, t)
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert t.grad is None or torch.count_nonzero(t.grad) == 0


def test_ab_divides_by_batch_size():
    s = torch.tensor([[0.5, -0.5], [-2.0, 2.0]])
    t = torch.tensor([[1.0, -1.0], [1.0, -1.0]])
    assert ABLoss()(s, t).item() == pytest.approx((0.5 + 18.0) / 2)
    s4 = torch.full((2, 3, 2, 2), 0.5)
    t4 = torch.ones(2, 3, 2, 2)  # 12 elements per sample, 0.25 each
    assert ABLoss()(s4, t4).item() == pytest.approx(12 * 0.25)


# -- FT ----------------------------------------------------------------------
def test_ft_scale_invariant():
    x = torch.randn(3, 4, 5, 5, generator=torch.Generator().manual_seed(5))
    assert FTLoss()(x, 2 * x).item() == pytest.approx(0.0, abs=1e-6)


def test_ft_hand_example():
    # phi([3, 4]) = [0.6, 0.8], phi([1, 0]) = [1, 0]:
    # |diff| = [0.4, 0.8] -> mean 0.6; p = 2 -> (0.16 + 0.64) / 2 = 0.4.
    s, t = torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])
    assert FTLoss()(s, t).item() == pytest.approx(0.6)
    assert FTLoss(p=2)(s, t).item() == pytest.approx(0.4)
    # Batch mean: a second, identical pair adds 0.
    s2 = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    t2 = torch.tensor([[1.0, 0.0], [5.0, 5.0]])
    assert FTLoss()(s2, t2).item() == pytest.approx(0.3)


def test_ft_student_gradient_and_no_teacher_gradient():
    g = torch.Generator().manual_seed(10)
    s = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64,
                    requires_grad=True)
    FTLoss()(s, t).backward()
    assert t.grad is None or torch.count_nonzero(t.grad) == 0
    # the formula written out: mean |x/||x|| - y/||y||| per sample
    x = s.detach().clone().requires_grad_(True)
    flat = x.reshape(2, -1)
    phi = flat / flat.pow(2).sum(1, keepdim=True).sqrt()
    target = t.detach().reshape(2, -1)
    target = target / target.pow(2).sum(1, keepdim=True).sqrt()
    (phi - target).abs().mean().backward()
    torch.testing.assert_close(s.grad, x.grad)


# -- hint --------------------------------------------------------------------
def test_hint_is_mse():
    g = torch.Generator().manual_seed(6)
    s, t = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4,
                                                             generator=g)
    torch.testing.assert_close(HintLoss()(s, t), F.mse_loss(s, t))
    torch.testing.assert_close(HintLoss(reduction='sum')(s, t),
                               F.mse_loss(s, t, reduction='sum'))
    assert HintLoss()(s, s.clone()).item() == 0.0


# -- CWD ---------------------------------------------------------------------
def test_cwd_zero_at_identical_maps():
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(7))
    assert ChannelWiseDivergence()(x, x.clone()).item() == pytest.approx(
        0.0, abs=1e-6)


def test_cwd_hand_example():
    # One channel, two positions; at T = 1 the teacher map [ln 3, 0] is
    # [0.75, 0.25] and the student's [0, 0] is uniform: KL = 0.130812036.
    s = torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    t = torch.tensor([[[[LN3, 0.0]]]], dtype=torch.float64)
    assert ChannelWiseDivergence(temperature=1.0)(s, t).item() == \
        pytest.approx(0.130812036, abs=1e-9)
    # Same at T = 4 as KD on the two positions; a second, matching
    # channel halves the N*C mean.
    assert ChannelWiseDivergence(temperature=4.0)(s, t).item() == \
        pytest.approx(0.149457865, abs=1e-9)
    s2 = torch.cat([s, t], 1)
    t2 = torch.cat([t, t], 1)
    assert ChannelWiseDivergence(temperature=4.0)(s2, t2).item() == \
        pytest.approx(0.149457865 / 2, abs=1e-9)


# -- loss_weight, registry, config errors ------------------------------------
@pytest.mark.parametrize('cls, shape', [
    (KDLoss, (3, 5)), (SoftCrossEntropyLoss, (3, 5)), (HintLoss, (2, 3, 4)),
    (FTLoss, (2, 3, 4)), (ABLoss, (2, 3, 4)),
    (ChannelWiseDivergence, (2, 3, 4))])
def test_loss_weight_scales_linearly(cls, shape):
    g = torch.Generator().manual_seed(8)
    s, t = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    base = cls()(s, t)
    assert base.item() > 0
    for w in (0.0, 0.5, 3.0):
        torch.testing.assert_close(cls(loss_weight=w)(s, t), w * base)


def test_registered_under_gml_scope():
    for cfg in [dict(type='gml.KDLoss', temperature=2.0),
                dict(type='gml.SoftCrossEntropyLoss'),
                dict(type='gml.HintLoss'), dict(type='gml.FTLoss'),
                dict(type='gml.ABLoss'),
                dict(type='gml.ChannelWiseDivergence'),
                dict(type='gml.ConvConnector', in_channels=2,
                     out_channels=3),
                dict(type='gml.IdentityConnector'),
                dict(type='gml.FitNetRegressor', in_channels=2,
                     out_channels=3),
                dict(type='gml.Paraphraser', in_channels=4),
                dict(type='gml.Translator', in_channels=2, out_channels=3)]:
        assert MODELS.build(cfg).__class__.__name__ == cfg['type'][4:]


# Each message names the argument, what it expected and what it found.
@pytest.mark.parametrize('build, message', [
    (lambda: KDLoss(temperature=0),
     r'^KDLoss\.temperature: expected a finite number > 0, found 0$'),
    (lambda: KDLoss(loss_weight='a'),
     r"^KDLoss\.loss_weight: expected a finite number, found 'a'$"),
    (lambda: HintLoss(reduction='avg'),
     r"^HintLoss\.reduction: expected one of 'mean', 'sum', 'none', "
     r"found 'avg'$"),
    (lambda: ABLoss(margin=-1),
     r'^ABLoss\.margin: expected a finite number >= 0, found -1$'),
    (lambda: FTLoss(p=0),
     r'^FTLoss\.p: expected a finite number > 0, found 0$'),
    (lambda: SoftCrossEntropyLoss(target_is_prob='yes'),
     r'^SoftCrossEntropyLoss\.target_is_prob: expected true or false, '
     r"found 'yes'$"),
    (lambda: ConvConnector(0, 3),
     r'^ConvConnector\.in_channels: expected an integer >= 1, found 0$'),
    (lambda: IdentityConnector(2, 3),
     r'^IdentityConnector\.out_channels: must equal in_channels \(2\), '
     r'found 3; use ConvConnector to change the width$'),
    (lambda: FitNetRegressor(2, 3, student_size=(8, 8)),
     r'^FitNetRegressor\.teacher_size: give both student_size and '
     r'teacher_size, or neither'),
    (lambda: FitNetRegressor(2, 3, (3, 3), (8, 8)),
     r'^FitNetRegressor\.student_size: \(3, 3\) cannot be mapped onto '
     r'teacher_size \(8, 8\); supported are equal, 2x, half'),
    (lambda: Paraphraser(1, factor_rate=0.3),
     r'^Paraphraser\.factor_rate: 0\.3 x in_channels 1 leaves no factor '
     r'channel$'),
    (lambda: Paraphraser(4, pretrain_criterion=dict(type='NoSuchLoss')),
     r"^Paraphraser\.pretrain_criterion: unknown type 'NoSuchLoss'"),
    (lambda: Paraphraser(4, pretrain_criterion=dict(type='L1Loss', x=1)),
     r"^Paraphraser\.pretrain_criterion: .*unexpected keyword argument "
     r"'x'$")])
def test_bad_arguments_raise_config_error(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r'^HintLoss: student shape '
                       r'\(2, 3\) differs from teacher shape \(2, 4\); add '
                       r'a connector that maps one onto the other$'):
        HintLoss()(torch.zeros(2, 3), torch.zeros(2, 4))


# -- connectors --------------------------------------------------------------
@pytest.mark.parametrize('student_size, teacher_size', [
    (None, None), ((8, 8), (8, 8)), ((8, 8), (4, 4)), ((4, 4), (8, 8)),
    ((7, 9), (4, 4)), ((6, 8), (3, 4)), (5, 5)])
def test_fitnet_regressor_maps_to_teacher_shape(student_size, teacher_size):
    hs, ws = (8, 8) if student_size is None else \
        (student_size if isinstance(student_size, tuple)
         else (student_size, student_size))
    ht, wt = (8, 8) if teacher_size is None else \
        (teacher_size if isinstance(teacher_size, tuple)
         else (teacher_size, teacher_size))
    reg = FitNetRegressor(3, 5, student_size, teacher_size)
    out = reg(torch.randn(2, 3, hs, ws))
    assert out.shape == (2, 5, ht, wt)
    assert (out >= 0).all()  # ends in ReLU


def test_fitnet_regressor_layer_choice():
    assert FitNetRegressor(3, 5).conv.kernel_size == (3, 3)
    down = FitNetRegressor(3, 5, (8, 8), (4, 4)).conv
    assert (down.kernel_size, down.stride) == ((3, 3), (2, 2))
    up = FitNetRegressor(3, 5, (4, 4), (8, 8)).conv
    assert isinstance(up, torch.nn.ConvTranspose2d)
    assert (up.kernel_size, up.stride) == ((4, 4), (2, 2))
    assert FitNetRegressor(3, 5, (7, 9), (4, 4)).conv.kernel_size == (4, 6)
    with pytest.raises(ValueError, match=r'^FitNetRegressor: built for '
                       r'student maps of size \(8, 8\), got \(6, 6\)$'):
        FitNetRegressor(3, 5, (8, 8), (4, 4))(torch.zeros(1, 3, 6, 6))


def test_conv_and_identity_connectors():
    x = torch.randn(2, 3, 4, 4)
    assert ConvConnector(3, 6)(x).shape == (2, 6, 4, 4)
    assert len(ConvConnector(3, 3).layers) == 2  # conv + BN, no ReLU
    relu = ConvConnector(3, 6, norm=False, act=True)
    assert (relu(x) >= 0).all() and relu.layers[0].bias is not None
    assert IdentityConnector(3, 3)(x) is x
    assert not ConvConnector(3, 6).needs_pretrain
    assert not IdentityConnector().needs_pretrain


def test_paraphraser_and_translator_shapes():
    para = Paraphraser(6, factor_rate=0.5)
    x = torch.randn(2, 6, 5, 5)
    assert para(x).shape == (2, 3, 5, 5)
    assert para.forward_pretrain(x).shape == x.shape
    assert not para.needs_pretrain
    assert Paraphraser(10, factor_rate=0.25).factor_channels == round(2.5)
    assert Paraphraser(128).factor_channels == 64
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in para.modules())
    trans = Translator(4, 3)
    assert trans(torch.randn(2, 4, 5, 5)).shape == (2, 3, 5, 5)
    assert not trans.needs_pretrain
    with pytest.raises(ConfigError, match=r'^Paraphraser\.pretrain_criterion: '
                       r'not set, so the paraphraser has no pretraining '
                       r'loss$'):
        para.pretrain_loss(x)


@pytest.mark.parametrize('criterion', [dict(type='L1Loss'),
                                       dict(type='MSELoss'),
                                       dict(type='gml.HintLoss')])
def test_paraphraser_pretraining_lowers_reconstruction_loss(criterion):
    torch.manual_seed(0)
    para = MODELS.build(dict(type='gml.Paraphraser', in_channels=8,
                             pretrain_criterion=criterion))
    assert para.needs_pretrain
    x = torch.relu(torch.randn(4, 8, 4, 4))
    opt = torch.optim.SGD(para.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(20):
        loss = para.pretrain_loss(x)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert para.pretrain_loss(x).item() < 0.95 * losses[0]
    assert losses[-1] < losses[0]
    expected = F.l1_loss if criterion['type'] == 'L1Loss' else F.mse_loss
    with torch.no_grad():
        torch.testing.assert_close(para.pretrain_loss(x),
                                   expected(para.forward_pretrain(x), x))
