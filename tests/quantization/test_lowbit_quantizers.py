"""Low-bit quantizers: forward values and gradients against hand
computation; quantizing a quantized tensor changes nothing."""
import math
import re

import pytest
import torch

from gml.errors import ConfigError
from gml.models.quantizers import (DoReFaQuantizer, LQNetsQuantizer,
                                   LSQQuantizer, PACTQuantizer,
                                   XNORQuantizer, grad_scale, round_ste)


def values_and_grad(quantizer, x, upstream=None):
    x = x.clone().requires_grad_()
    y = quantizer(x)
    y.backward(torch.ones_like(y) if upstream is None else upstream)
    return y.detach(), x.grad


def test_round_ste_and_grad_scale():
    x = torch.tensor([0.4, 0.6, -1.5], requires_grad=True)
    y = round_ste(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 1.0, -2.0] and x.grad.tolist() == [1, 1, 1]
    s = torch.tensor(2.0, requires_grad=True)
    out = grad_scale(s, 0.25)
    (3 * out).backward()
    assert out.item() == 2.0 and s.grad.item() == 0.75


def test_dorefa_activations():
    q = DoReFaQuantizer(bits=2, role='activation')   # n = 3, clip 1
    y, g = values_and_grad(q, torch.tensor([-0.5, 0.1, 0.2, 0.5, 0.9, 1.7]))
    assert y.tolist() == pytest.approx([0, 0, 1 / 3, 2 / 3, 1, 1])
    assert g.tolist() == [0, 1, 1, 1, 1, 0]   # STE inside the clamp


def test_dorefa_weights():
    w = torch.tensor([-2.0, -0.1, 0.3, 1.0])
    y, g = values_and_grad(DoReFaQuantizer(bits=2, role='weight'), w)
    t = torch.tanh(w)
    u = t / (2 * t.abs().max()) + 0.5          # in [0, 1]
    expected = 2 * torch.round(u * 3) / 3 - 1
    assert torch.allclose(y, expected)
    # u = 0.0000, 0.4483, 0.6511, 0.8950 -> round(3u) = 0, 1, 2, 3
    assert y.tolist() == pytest.approx([-1, -1 / 3, 1 / 3, 1])
    # binary: sign(w) * mean|w| = 0.85, identity gradient
    y1, g1 = values_and_grad(DoReFaQuantizer(bits=1, role='weight'), w)
    assert y1.tolist() == pytest.approx([-0.85, -0.85, 0.85, 0.85])
    assert g1.tolist() == [1, 1, 1, 1]


def test_pact_values_and_clip_gradient():
    q = PACTQuantizer(bits=2, init_clip=3.0)   # levels 0, 1, 2, 3
    x = torch.tensor([-1.0, 0.4, 1.6, 2.9, 3.0, 5.0], requires_grad=True)
    y = q(x)
    (y * torch.tensor([1., 2., 3., 4., 5., 6.])).sum().backward()
    assert y.tolist() == pytest.approx([0, 0, 2, 3, 3, 3])
    assert x.grad.tolist() == [0, 2, 3, 4, 0, 0]   # STE on [0, alpha)
    assert q.alpha.grad.item() == 5 + 6            # 1 where x >= alpha


def test_lsq_values_and_step_gradient_with_scale():
    q = LSQQuantizer(bits=2, role='activation', grad_scale='lsq')  # Qp = 3
    q.eval()
    with torch.no_grad():
        q.step.fill_(0.5)
    x = torch.tensor([-0.3, 0.2, 0.7, 1.2, 2.0])
    y, g = values_and_grad(q, x)
    # x / s = -0.6, 0.4, 1.4, 2.4, 4.0 -> clamp [0, 3] -> round
    assert y.tolist() == pytest.approx([0, 0, 0.5, 1.0, 1.5])
    assert g.tolist() == [0, 1, 1, 1, 0]
    # d/ds: -Qn (=0) below, round(x/s) - x/s inside, Qp above
    raw = [0.0, 0 - 0.4, 1 - 1.4, 2 - 2.4, 3.0]
    scale = 1 / math.sqrt(5 * 3)
    assert q.step.grad.item() == pytest.approx(sum(raw) * scale)


def test_lsq_weights_per_channel_init_and_bounds():
    q = LSQQuantizer(bits=3, role='weight', channels=2)   # Qn 4, Qp 3
    w = torch.tensor([[1.0, -3.0, 0.5, 2.5], [0.2, 0.2, -0.2, 0.2]])
    y = q(w)
    mean = w.abs().mean(dim=1)
    assert q.step.detach().tolist() == pytest.approx(
        (2 * mean / math.sqrt(3)).tolist())
    steps = q.step.detach().view(2, 1)
    expected = torch.round(torch.clamp(w / steps, -4, 3)) * steps
    assert torch.allclose(y, expected)
    with pytest.raises(ConfigError, match=r'^LSQQuantizer\.bits: expected an '
                       r'integer from 2 to 8, found 1$'):
        LSQQuantizer(bits=1, role='weight')


def test_xnor_weights_activations_and_gamma():
    w = torch.tensor([[0.5, -1.5, 1.0], [-0.2, 0.4, 0.0]])
    y, g = values_and_grad(XNORQuantizer(role='weight'), w)
    assert y.flatten().tolist() == pytest.approx([1, -1, 1, -0.2, 0.2, 0.2])
    assert g.flatten().tolist() == pytest.approx([1, 1, 1, 0.2, 0.2, 0.2])
    q = XNORQuantizer(role='weight', gamma=True, channels=2)
    y = q(w)
    y.sum().backward()
    assert q.gamma.detach().tolist() == pytest.approx([1.0, 0.2])
    assert q.gamma.grad.tolist() == [1.0, 1.0]  # sum of signs per channel
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
    y, g = values_and_grad(XNORQuantizer(role='activation'), x)
    assert y.tolist() == [-1, -1, 1, 1, 1] and g.tolist() == [0, 1, 1, 1, 0]
    _, g = values_and_grad(XNORQuantizer(role='activation',
                                         gradient='triangle'), x)
    assert g.tolist() == [0, 1, 2, 1, 0]     # 2 - 2|x| on [-1, 1]


def test_lqnets_levels_basis_fit_and_gradient():
    q = LQNetsQuantizer(bits=2, role='activation', momentum=1.0)
    q.eval()
    x = torch.tensor([-1.0, 0.3, 0.7, 1.2, 1.9, 2.5])
    y, g = values_and_grad(q, x)
    base = 0.6745 * 2 / 2
    levels = [0, base, 2 * base, 3 * base]
    assert q.levels_and_codes()[0].tolist() == pytest.approx(levels)
    assert y.tolist() == pytest.approx([0, 0, base, 2 * base, 3 * base,
                                        3 * base])
    assert g.tolist() == [1, 1, 1, 1, 1, 0]   # zero above the top level
    # training: the basis becomes the least-squares fit of the codes
    q.train()
    q(x)
    codes = torch.tensor([[0., 0], [0, 0], [1, 0], [0, 1], [1, 1], [1, 1]])
    fit = torch.linalg.lstsq(codes.double(), x.double().unsqueeze(1))
    assert q.basis.tolist() == pytest.approx(
        fit.solution.squeeze(1).tolist(), abs=1e-4)
    w = LQNetsQuantizer(bits=2, role='weight')
    assert sorted(w.codes.tolist()) == [[-1, -1], [-1, 1], [1, -1], [1, 1]]


@pytest.mark.parametrize('make', [
    lambda: DoReFaQuantizer(bits=3, role='activation'),
    lambda: PACTQuantizer(bits=3, init_clip=2.0),
    lambda: LSQQuantizer(bits=3, role='activation'),
    lambda: LSQQuantizer(bits=4, role='weight', channels=4),
    lambda: LQNetsQuantizer(bits=3, role='activation'),
    lambda: XNORQuantizer(role='weight'),
])
def test_quantizing_twice_changes_nothing(make):
    q = make()
    x = torch.randn(4, 3, 2, 2) * 2
    q.train()
    q(x)          # initialise steps / bases from data
    q.eval()
    once = q(x).detach()
    assert torch.allclose(q(once), once, atol=1e-6)


@pytest.mark.parametrize('bits', [0, 9, 2.5, True])
def test_bits_outside_one_to_eight_are_refused(bits):
    for make in (DoReFaQuantizer, PACTQuantizer, LSQQuantizer,
                 LQNetsQuantizer):
        with pytest.raises(ConfigError, match=(
                rf'^{make.__name__}\.bits: expected an integer from [12] to '
                rf'8, found {re.escape(repr(bits))}$')):
            make(bits=bits)
    with pytest.raises(ConfigError, match=r'^XNORQuantizer\.bits: XNOR '
                       r'binarizes \(1 bit\), found 2$'):
        XNORQuantizer(bits=2)
