"""The controller on real models: L0 is exact, parameters are never
touched, every storage counts once, levels and bad settings, the bit
choice of auto precision, and the old torch hook names."""
import itertools

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

import gml.actnn as actnn
from gml.actnn.packing import Packed
from gml.actnn.precision import choose_bits
from gml.errors import ConfigError
from gml.registry import build_model


def digits_resnet():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    return build_model(Config.fromfile(
        'configs/_base_/models/resnet_digits.py').model).train()


def gradients(model, controller=None, seed=0):
    model.zero_grad()
    torch.manual_seed(seed)
    x = torch.randn(32, 3, 16, 16)
    labels = torch.randint(0, 10, (32, ))
    if controller is None:
        loss = nn.functional.cross_entropy(model(x), labels)
    else:
        controller.filter_tensors(model.named_parameters())
        with controller.hooks():
            loss = nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    return {k: p.grad.clone() for k, p in model.named_parameters()}


def test_level_0_gives_exactly_the_uncompressed_gradients():
    model = digits_resnet()
    plain = gradients(model)
    controller = actnn.Controller(level='L0')
    hooked = gradients(model, controller)
    assert all(torch.equal(plain[k], hooked[k]) for k in plain)
    stats = controller.stats
    assert stats['compressed'] == 0
    assert stats['raw_bytes'] == stats['packed_bytes'] > 0


def test_parameters_stay_and_compressed_gradients_stay_close():
    model = digits_resnet()
    plain = gradients(model)
    controller = actnn.Controller(default_bit=8, seed=0)
    packed = []
    quantize = controller.quantize

    def spy(x):
        out = quantize(x)
        packed.append((x, out))
        return out
    controller.quantize = spy
    hooked = gradients(model, controller)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    for original, out in packed:
        if original.untyped_storage().data_ptr() in params:
            assert out is original  # weights (and views like w.t()) as is
    assert sum(isinstance(out, Packed) for _, out in packed) > 30
    for name in plain:  # 8 bits: gradients within a few percent
        error = (hooked[name] - plain[name]).norm() / plain[name].norm()
        assert error < 0.05, name


def test_storage_saved_by_several_ops_counts_once():
    relu = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1),
                         nn.ReLU(inplace=True), nn.Conv2d(16, 16, 3))
    controller = actnn.Controller(default_bit=2, min_numel=1)
    controller.filter_tensors(relu.named_parameters())
    x = torch.randn(4, 3, 32, 32)
    with controller.hooks():
        relu(x).sum().backward()
    # kept: the input (as is), the conv output... no: conv1 saves x; ReLU
    # saves its output, which conv2 saves again (one storage)
    relu_bytes = 4 * 16 * 32 * 32 * 4
    assert controller.stats['raw_bytes'] == x.numel() * 4 + relu_bytes
    assert controller.stats['tensors'] == 2


def test_level_1_keeps_what_batchnorm_saves():
    model = digits_resnet()
    plain = gradients(model)
    hooked = gradients(model, actnn.Controller(level='L1', seed=0))

    def error(name):
        return float((hooked[name] - plain[name]).norm() /
                     plain[name].norm())
    # the stem conv's gradient needs only BN inputs (kept), exact ReLU
    # masks and the image (8 bits): close; a 4-bit input is further off
    assert error('backbone.conv1.weight') < 0.02
    assert error('backbone.layer4.1.conv2.weight') > \
        3 * error('backbone.conv1.weight')


def test_levels_and_bad_settings():
    assert actnn.conf.level_settings('L4').swap
    with pytest.raises(ConfigError, match="level 'L5' is not supported: "
                       ".*patched PyTorch"):
        actnn.set_optimization_level('L5')
    with pytest.raises(ConfigError, match=r"actnn level: expected one of "
                       r"\['L0', 'L1', 'L2', 'L3', 'L4'\], found 'L9'"):
        actnn.Controller(level='L9')
    with pytest.raises(ConfigError, match=r'default_bit: expected one of '
                       r'\(1, 2, 4, 8\), found 3'):
        actnn.Controller(default_bit=3)
    with pytest.raises(ConfigError, match="unknown setting 'bits'"):
        actnn.Controller(bits=2)
    try:
        actnn.set_optimization_level('L2')
        assert actnn.Controller().settings.activation_compression_bits == 4
        # refused where it is set, before any controller reads it
        with pytest.raises(ConfigError, match='activation_compression_bits'):
            actnn.config.activation_compression_bits = 3
        assert actnn.Controller().settings.activation_compression_bits == 4
    finally:
        actnn.set_optimization_level('L3')


def test_greedy_bits_equal_the_best_choice():
    sensitivity, sizes = [50.0, 1.0, 8.0, 0.2], [1, 1, 1, 1]
    chosen = choose_bits(sensitivity, sizes, target=3, min_bits=[1] * 4)

    def objective(bits):
        return sum(c / (2 ** b - 1) ** 2 for c, b in zip(sensitivity, bits))
    best = min((b for b in itertools.product(range(1, 9), repeat=4)
                if sum(b) <= 12), key=objective)
    assert objective(chosen) == pytest.approx(objective(best))
    assert sum(chosen) == 12 and chosen[0] > chosen[2] > chosen[3]
    # weighted: a big tensor pays for its bits
    # (the big tensor's cut to 1 bit leaves room: the small one gets 8)
    assert choose_bits([1, 1], [100, 1], 2, [1, 1]) == [1, 8]


def test_level_3_chooses_bits_for_an_average_of_two():
    model = digits_resnet()
    controller = actnn.Controller(level='L3', seed=0, adapt_interval=1)
    gradients(model, controller, seed=0)
    records = sorted(controller._records, key=lambda r: r['index'])
    assert all(r['grad'] is not None for r in records)
    expected = choose_bits([float(r['ranges'] * r['grad']) for r in records],
                           [r['numel'] for r in records], 2,
                           [r['min_bits'] for r in records])
    controller.iterate()  # adapts: interval 1
    assert controller._bits == expected
    sizes = [r['numel'] for r in records]
    average = sum(b * n for b, n in zip(expected, sizes)) / sum(sizes)
    assert 1.9 <= average <= 2.0
    relu = [b for b, r in zip(expected, records) if r['min_bits'] == 2]
    assert relu and min(relu) >= 2
    gradients(model, controller, seed=1)  # now with the chosen bits
    stats = controller.stats
    assert stats['raw_bytes'] / stats['packed_bytes'] > 8


def test_the_old_torch_hook_names_work():
    calls = []

    def pack(x):
        calls.append(x.shape)
        return x
    torch._C._autograd._register_saved_tensors_default_hooks(pack,
                                                             lambda x: x)
    try:
        (torch.randn(3, requires_grad=True) * 2).exp().sum().backward()
    finally:
        torch._C._autograd._reset_saved_tensors_default_hooks()
    assert calls
    count = len(calls)
    (torch.randn(3, requires_grad=True) * 2).exp().sum().backward()
    assert len(calls) == count  # removed


def test_qmodule_compresses_training_forwards_only():
    model = actnn.QModule(digits_resnet(), default_bit=4, seed=0)
    x = torch.randn(16, 3, 16, 16)
    for _ in range(2):
        model(x).sum().backward()
    assert model.controller.history[-1]['compressed'] > 30
    model.eval()
    with torch.no_grad():
        model(x)
    assert len(model.controller.history) == 1


def test_every_saved_storage_counts_once_even_when_memory_is_reused():
    """conv outputs freed after BN packed them hand their memory to the
    next conv output: both count."""
    model = nn.Sequential(*[m for _ in range(4) for m in (
        nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16),
        nn.ReLU(inplace=True))])
    x = torch.randn(8, 16, 32, 32)
    plain = actnn.Controller(level='L0')
    plain.filter_tensors(model.named_parameters())
    with plain.hooks():
        model(x).sum().backward()
    # the input, then per block: the conv output (BN input), the ReLU
    # output (the next conv's input, one storage) and BN's running and
    # batch mean/variance (4 x 16 floats)
    one = x.numel() * 4
    assert plain.stats['raw_bytes'] == one + 4 * (2 * one + 4 * 16 * 4)
    packed = actnn.Controller(default_bit=2)
    packed.filter_tensors(model.named_parameters())
    with packed.hooks():
        model(x).sum().backward()
    assert packed.stats['raw_bytes'] == plain.stats['raw_bytes']
