"""The FLOPs loss: hand-computed values in MFLOPs, a dead band just below
the target, gradients pointing into the band, and SGD on it moving only the
architecture parameters.

DMCP's official ``log_l1`` loss, with the expected FLOPs E and the target T
both in MFLOPs:

    r = 0.1 if |E - T| > 200 else 1.0
    L = log(r * |E - T|)         if E < 0.95 T
    L = 0                        if 0.95 T <= E < T    (the dead band)
    L = log(r * |E - 0.95 T|)    if E >= T
    total = loss_weight * L      (0.1 in the official configs)

MMRazor 1.0.0 mixes units here: its error is in FLOPs while the 0.95 T band
is in MFLOPs and the +-200 window is compared with FLOPs, so the band can
never be reached; with T = 2000 MFLOPs and weight 1 it gave 18.42 at
1.0 GFLOPs and 19.06 at 1.9 GFLOPs, which is log(0.1 * |E - 2000|) with E
in FLOPs (log(0.1 * (1e9 - 2000)) = 18.4207, log(0.1 * (1.9e9 - 2000)) =
19.0625), where the formula above gives log(0.1 * 1000) = 4.6052 and 0."""
import math

import pytest
import torch

from gml.errors import ConfigError
from gml.models.losses import FlopsLoss
from gml.mutators import DMCPMutator

from .toy import ToyNet

T = 2000.0  # MFLOPs, as in the guide's ResNet-50 config


@pytest.mark.parametrize('expected, unweighted', [
    (1000.0, math.log(0.1 * 1000)),       # below the band, far: r = 0.1
    (1850.0, math.log(150)),              # below the band, within 200
    (1900.0, 0.0),                        # the band [0.95 T, T)
    (1999.9, 0.0),
    (2000.0, math.log(2000 - 1900)),      # at T: distance to 0.95 T
    (2100.0, math.log(200)),              # |E - T| = 100 <= 200: r = 1
    (2500.0, math.log(0.1 * 600)),        # 4.0943...
    (4000.0, math.log(0.1 * 2100)),       # 5.3471...
])
def test_log_l1_equals_hand_computed_values(expected, unweighted):
    loss = FlopsLoss(T, type='log_l1', loss_weight=0.1)
    value = loss(torch.tensor(expected)).item()
    assert value == pytest.approx(0.1 * unweighted, rel=1e-6, abs=1e-9)


def test_published_bug_values_do_not_recur():
    # the mixed-unit implementation gave 18.42 at 1.0 G and 19.06 at 1.9 G
    loss = FlopsLoss(T, type='log_l1', loss_weight=1.0)
    assert loss(torch.tensor(1000.)).item() == pytest.approx(4.60517, 1e-5)
    assert loss(torch.tensor(1900.)).item() == 0


@pytest.mark.parametrize('kind', ['log_l1', 'l1', 'l2'])
def test_zero_in_band_and_gradient_points_into_it(kind):
    loss = FlopsLoss(T, type=kind, loss_weight=0.1)
    for inside in (1900.0, 1950.0, 1999.0):
        e = torch.tensor(inside, requires_grad=True)
        value = loss(e)
        value.backward()
        assert value.item() == 0 and e.grad.item() == 0
    for outside, sign in ((1200.0, -1), (1880.0, -1), (2050.0, 1),
                          (3500.0, 1)):
        e = torch.tensor(outside, requires_grad=True)
        loss(e).backward()
        assert torch.sign(e.grad).item() == sign, (kind, outside)


def test_l1_and_l2_values():
    l1 = FlopsLoss(100.0, type='l1', loss_weight=1.0)
    l2 = FlopsLoss(100.0, type='l2', loss_weight=0.5)
    assert l1(torch.tensor(80.)).item() == pytest.approx(0.2)
    assert l1(torch.tensor(120.)).item() == pytest.approx(0.25)  # to 95
    assert l2(torch.tensor(120.)).item() == pytest.approx(0.5 * 0.25 ** 2)


def test_bad_settings_are_refused_with_the_key():
    with pytest.raises(ConfigError, match="type='log_l1' needs band"):
        FlopsLoss(8.0, type='log_l1')   # a digits-sized target
    with pytest.raises(ConfigError, match='flops_loss.type'):
        FlopsLoss(T, type='huber')
    with pytest.raises(ConfigError, match='flops_loss.band'):
        FlopsLoss(T, band=1.5)


def mutator_on_toy(probability='sigmoid', init_alpha=0.0):
    model = ToyNet()
    mutator = DMCPMutator(input_shape=(1, 3, 8, 8), probability=probability,
                          init_alpha=init_alpha, seed=0)
    mutator.prepare(model)
    return model, mutator


@pytest.mark.parametrize('probability, sign', [('sigmoid', 1), ('exp', -1)])
def test_expected_flops_gradient_sign(probability, sign):
    model, mutator = mutator_on_toy(probability)
    alphas = {n: a + 0.5 for n, a in mutator.arch_leaves().items()}
    leaves = {n: a.detach().requires_grad_() for n, a in alphas.items()}
    mutator.expected_flops(leaves).backward()
    for name, leaf in leaves.items():
        assert (torch.sign(leaf.grad) == sign).all(), name


def test_expected_flops_at_certainty_equal_the_full_model():
    model, mutator = mutator_on_toy()
    full = mutator.subnet_flops(mutator.full_widths())
    certain = {n: torch.full_like(a, 60.) for n, a in
               mutator.arch_leaves().items()}
    assert mutator.expected_flops(certain).item() == pytest.approx(full)
    assert full == pytest.approx(ToyNet.MACS / 1e6)


def test_sgd_on_the_flops_loss_lowers_flops_and_leaves_weights():
    model, mutator = mutator_on_toy(init_alpha=4.0)  # p = 0.98
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    full = mutator.subnet_flops(mutator.full_widths())
    loss = FlopsLoss(0.3 * full, type='l1', loss_weight=1.0)
    mutator.arch_optimizer_type, mutator.arch_lr = 'sgd', 0.5
    history = []
    for _ in range(30):  # SGD, momentum 0.9, until E reaches the target
        leaves = mutator.arch_leaves()
        expected = mutator.expected_flops(leaves)
        history.append(expected.item())
        if history[-1] < loss.target:
            break
        names = list(leaves)
        grads = torch.autograd.grad(loss(expected),
                                    [leaves[n] for n in names])
        mutator.arch_update(dict(zip(names, grads)))
    assert history[0] > 0.8 * full and history[-1] < loss.target
    assert all(b < a for a, b in zip(history, history[1:]))
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key
