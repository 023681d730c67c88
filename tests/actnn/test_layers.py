"""ActNN's layer API (the ActNN README): Q-layers, QModule's conversion,
QScheme and the config's refusals."""
import copy
from dataclasses import fields

import pytest
import torch
import torch.nn as nn

import gml.actnn as actnn
from gml.actnn import layers
from gml.errors import ConfigError


@pytest.fixture(autouse=True)
def fresh_config():
    """Each test starts from the default config and new shared
    controllers, and leaves them so."""
    saved = {f.name: getattr(actnn.config, f.name)
             for f in fields(actnn.ActNNConfig)}
    layers._shared.clear()
    yield
    for name, value in saved.items():
        setattr(actnn.config, name, value)
    layers._shared.clear()
    type.__setattr__(actnn.QScheme, 'num_samples', 0)


def plain_net():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
        nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
        nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def q_net():
    """plain_net built from the README's layers."""
    return nn.Sequential(
        actnn.QConv2d(3, 16, 3, padding=1, bias=False),
        actnn.QBatchNorm2d(16), actnn.QReLU(), actnn.QMaxPool2d(2),
        actnn.QConv2d(16, 16, 3, padding=1, bias=False),
        actnn.QBatchNorm2d(16), actnn.QReLU(), nn.Flatten(),
        actnn.QLinear(16 * 8 * 8, 10))


def fixed_bits(bits):
    """The README's way to fixed bits: a level, then the bits."""
    actnn.set_optimization_level('L2')
    actnn.config.activation_compression_bits = [bits]


def gradients(net, x, y, seed=0):
    """Parameter and input gradients of one cross-entropy step."""
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)  # the stochastic rounding
    nn.functional.cross_entropy(net(x), y).backward()
    return [p.grad.clone() for p in net.parameters()] + [x.grad]


def worst_error(net, plain, seeds=range(3)):
    """max over seeds and tensors of |g - g_plain| / |g_plain|."""
    worst = 0.0
    for seed in seeds:
        torch.manual_seed(100 + seed)
        x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8, ))
        net.zero_grad()
        plain.zero_grad()
        for a, b in zip(gradients(net, x, y, seed), gradients(plain, x, y)):
            worst = max(worst, float((a - b).norm() / b.norm()))
    return worst


def test_the_readme_layers_are_their_torch_layers():
    plain = {nn.Conv1d: (3, 4, 3), nn.Conv2d: (3, 4, 3), nn.Conv3d: (3, 4, 3),
             nn.ConvTranspose1d: (3, 4, 3), nn.ConvTranspose2d: (3, 4, 3),
             nn.ConvTranspose3d: (3, 4, 3), nn.BatchNorm1d: (3, ),
             nn.BatchNorm2d: (3, ), nn.BatchNorm3d: (3, ),
             nn.SyncBatchNorm: (3, ), nn.Linear: (5, 4), nn.ReLU: (),
             nn.MaxPool2d: (2, )}
    for torch_type, args in plain.items():
        q_type = getattr(actnn, 'Q' + torch_type.__name__)
        assert issubclass(q_type, torch_type)
        torch.manual_seed(0)
        reference = torch_type(*args)
        torch.manual_seed(0)
        layer = q_type(*args)
        assert layer.state_dict().keys() == reference.state_dict().keys()
        assert all(torch.equal(a, b) for a, b in zip(
            layer.state_dict().values(), reference.state_dict().values()))


def expected_ratio(kind, n, channels=0):
    """raw / packed bytes at 8 bits for a layer keeping ``n`` floats,
    whole groups of 256: 32 bits a value become 8 bits plus 32 bits of
    bf16 minimum and scale a group (a ReLU output: 16, a scale only); a
    batch norm also keeps its batch mean and inverse std (2 x channels
    floats, too small to pack); a 2x2 max pool keeps n / 4 int64 indices
    as 2-bit offsets in their windows."""
    if kind == 'relu':
        return 32 / (8 + 16 / 256)
    if kind == 'pool':
        return (4 * n + 8 * n / 4) / (n + n / 256 * 4 + n / 4 * 2 / 8)
    stats = 2 * channels * 4
    return (4 * n + stats) / (n + n / 256 * 4 + stats)


@pytest.mark.parametrize('torch_type,args,shape,kind', [
    (nn.Conv1d, (3, 4, 3), (8, 3, 512), 'input'),
    (nn.Conv2d, (3, 4, 3), (8, 3, 32, 32), 'input'),
    (nn.Conv3d, (3, 4, 3), (4, 3, 8, 16, 16), 'input'),
    (nn.ConvTranspose1d, (3, 4, 3), (8, 3, 512), 'input'),
    (nn.ConvTranspose2d, (3, 4, 3, 2), (8, 3, 32, 32), 'input'),
    (nn.ConvTranspose3d, (3, 4, 3), (4, 3, 8, 16, 16), 'input'),
    (nn.BatchNorm1d, (64, ), (128, 64), 'input'),
    (nn.BatchNorm2d, (3, ), (8, 3, 32, 32), 'input'),
    (nn.BatchNorm3d, (3, ), (4, 3, 8, 16, 16), 'input'),
    (nn.SyncBatchNorm, (3, ), (8, 3, 32, 32), 'input'),
    (nn.Linear, (512, 10), (16, 512), 'input'),
    (nn.ReLU, (), (8, 3, 32, 32), 'relu'),
    (nn.MaxPool2d, (2, ), (8, 3, 32, 32), 'pool'),
])
def test_each_layer_compresses_in_training_only(torch_type, args, shape,
                                                kind):
    fixed_bits(8)
    torch.manual_seed(0)
    q_type = getattr(actnn, 'Q' + torch_type.__name__)
    reference, layer = torch_type(*args), q_type(*args)
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(shape)
    # evaluation and no-grad forwards are the torch layer's, exactly
    for mode in (False, True):
        reference.train(mode)
        layer.train(mode)
        with torch.no_grad():
            assert torch.equal(layer(x), reference(x))
    reference.eval()
    layer.eval()
    assert torch.equal(layer(x), reference(x))
    assert layer.controller.stats['tensors'] == 0  # nothing was saved
    # a training forward computes the same values and keeps what it saves
    # for backward at 8 bits, as the formula says
    reference.train()
    layer.train()
    x.requires_grad_()
    out = layer(x)
    assert torch.equal(out, reference(x))
    stats = layer.controller.stats
    channels = args[0] if 'BatchNorm' in torch_type.__name__ else 0
    assert stats['raw_bytes'] / stats['packed_bytes'] == pytest.approx(
        expected_ratio(kind, x.numel(), channels), rel=1e-9)
    # gradients (input and parameters) of a random projection of the
    # output, relative to their norm: measured at most 0.0154
    # (BatchNorm3d's weight; weights 0.0067-0.0154, inputs 0-0.0012):
    # stochastic rounding at 8 bits moves a value by up to 1/255 of its
    # group's range, about 1% of its standard deviation, and a weight's
    # gradient sums such errors against an unrelated random projection.
    # Exact for ReLU (zeros are kept exactly) and max pool (the indices
    # are lossless)
    weight = torch.randn_like(out)
    inputs = [x] + list(layer.parameters())
    grads = torch.autograd.grad((out * weight).sum(), inputs)
    expected = torch.autograd.grad((reference(x) * weight).sum(),
                                   [x] + list(reference.parameters()))
    errors = [float((a - b).norm() / b.norm())
              for a, b in zip(grads, expected)]
    assert max(errors) < 0.02
    if kind != 'input':
        assert max(errors) == 0


def test_gradients_at_8_bits_match_the_plain_net_and_differ_at_2():
    plain = plain_net()
    fixed_bits(8)
    net = q_net()
    net.load_state_dict(plain.state_dict())
    # parameters and input, 3 batches: measured at most 0.0151 (as one
    # layer's weights, see above)
    assert worst_error(net, plain) < 0.02
    fixed_bits(2)
    net = q_net()
    net.load_state_dict(plain.state_dict())
    # measured 1.37: 2 bits do change the gradients, and the test sees it
    assert worst_error(net, plain) > 0.3


def test_qmodule_converts_the_layers_and_keeps_the_weights():
    plain = plain_net()
    model = plain_net()
    model.load_state_dict(plain.state_dict())
    fixed_bits(8)
    model = actnn.QModule(model)
    text = str(model)
    for name in ('QConv2d', 'QBatchNorm2d', 'QReLU', 'QMaxPool2d',
                 'QLinear'):
        assert f'): {name}(' in text, name
    assert 'Flatten' in text  # not convertible: kept
    # checkpoints load both ways: the same keys, no wrapper prefix
    assert list(model.state_dict()) == list(plain.state_dict())
    copied = plain_net()
    copied.load_state_dict(model.state_dict())
    fresh = actnn.QModule(plain_net())
    fresh.load_state_dict(plain.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(
        fresh.state_dict().values(), plain.state_dict().values()))
    # measured at most 0.0153 at 8 bits
    assert worst_error(model, plain) < 0.02
    model.eval()
    plain.eval()
    x = torch.randn(8, 3, 16, 16)
    assert torch.equal(model(x), plain(x))


def test_conversion_keeps_parameters_shared_modules_and_optimizers():
    conv = nn.Conv2d(3, 16, 3)
    model = nn.Sequential(conv, nn.ReLU(), nn.Conv2d(16, 16, 1))
    model.append(model[1])  # one ReLU used twice
    weight = conv.weight
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    wrapped = actnn.QModule(model, default_bit=4)
    assert isinstance(model[0], actnn.QConv2d)
    assert model[0].weight is weight  # the optimizer's parameter
    assert model[3] is model[1] and isinstance(model[1], actnn.QReLU)
    assert all(m.controller is wrapped.controller for m in model
               if isinstance(m, actnn.QLayer))
    before = weight.detach().clone()
    wrapped(torch.randn(4, 3, 20, 20)).sum().backward()
    optimizer.step()
    assert not torch.equal(weight, before)


def saved_bytes(bits):
    """What q_net keeps for backward of an (8, 3, 16, 16) input that
    needs a gradient, by hand: float tensors in groups of 256 with
    ``bits`` a value plus a bf16 minimum and scale (4 bytes) a group;
    ReLU outputs with a scale only (2 bytes); max-pool indices of 2x2
    windows as 2-bit offsets; BN's batch mean and inverse std (16 floats
    each) as they are. The BN inputs (the convolutions' outputs) also keep
    each channel's fp32 mean and deviation (8 bytes a channel). The max
    pool's input is the ReLU's output (counted once); the linear layer's
    input, a view of the second ReLU's output, is packed again but its
    storage counted once."""
    groups = [8 * 3 * 16 * 16,      # first conv's input
              8 * 16 * 16 * 16,     # first BN's input
              8 * 16 * 8 * 8,       # second conv's input (pooled)
              8 * 16 * 8 * 8,       # second BN's input
              8 * 16 * 8 * 8]       # linear input (flattened view)
    relus = [8 * 16 * 16 * 16, 8 * 16 * 8 * 8]
    indices = 8 * 16 * 8 * 8
    stats = 2 * 2 * 16 * 4
    raw = 4 * sum(groups[:4] + relus) + 8 * indices + stats
    packed = sum(n * bits // 8 + n // 256 * 4 for n in groups) + \
        sum(n * bits // 8 + n // 256 * 2 for n in relus) + \
        indices * 2 // 8 + stats + 2 * 16 * 8
    return raw, packed


@pytest.mark.parametrize('bits,ratio', [(2, 15.04), (4, 8.04), (8, 4.16)])
def test_saved_bytes_follow_the_formula(bits, ratio):
    raw, packed = saved_bytes(bits)
    assert raw / packed == pytest.approx(ratio, abs=0.01)
    fixed_bits(bits)
    torch.manual_seed(0)
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    for net in (q_net(), actnn.QModule(plain_net())):
        controller = net.controller if isinstance(net, actnn.QModule) \
            else net[0].controller
        controller.iterate()  # start counting here
        net(x).sum().backward()
        stats = controller.stats
        assert (stats['raw_bytes'], stats['packed_bytes']) == (raw, packed)
    # independently: the plain net under hooks that keep everything (L0,
    # weights and running statistics left out) sees the same raw bytes
    plain = actnn.Controller(level='L0')
    model = plain_net()
    plain.filter_tensors(model.named_parameters())
    plain.filter_tensors(model.named_buffers())
    with plain.hooks():
        model(x).sum().backward()
    assert plain.stats['raw_bytes'] == plain.stats['packed_bytes']
    assert plain.stats['raw_bytes'] == raw


def test_layers_built_alone_share_a_controller_that_iterates_itself():
    fixed_bits(4)
    net = q_net()
    controllers = {m.controller for m in net if isinstance(m, actnn.QLayer)}
    assert len(controllers) == 1
    (controller, ) = controllers
    x = torch.randn(8, 3, 16, 16)
    for _ in range(3):
        net(x).sum().backward()
    # each forward after the first starts a new iteration
    assert len(controller.history) == 2
    assert controller.history[0] == controller.history[1]
    assert controller.history[0]['compressed'] == 8
    # layers built under other settings get another controller
    fixed_bits(8)
    assert actnn.QReLU().controller is not controller


def test_the_readme_advanced_settings():
    actnn.QScheme.num_samples = 1300000  # as the README writes it
    assert actnn.QScheme.num_samples == 1300000
    actnn.config.use_gradient = False  # what gml does: accepted
    with pytest.raises(ConfigError) as error:
        actnn.config.use_gradient = True
    message = str(error.value)
    assert '\n' not in message
    assert message.startswith('actnn.config.use_gradient: expected False, '
                              'found True (gml keeps no per-sample')
    assert "set_optimization_level('L3')" in message
    assert actnn.config.use_gradient is False
    with pytest.raises(ConfigError, match=r"^actnn.QScheme.num_samples: "
                       r"expected a number of samples >= 0, found -1$"):
        actnn.QScheme.num_samples = -1
    with pytest.raises(ConfigError, match=r"^actnn.QScheme: expected "
                       r"'num_samples', found 'batch'$"):
        actnn.QScheme.batch = 3


def test_config_refuses_unknown_settings_and_bits():
    actnn.config.activation_compression_bits = [8]  # the README's FAQ
    assert actnn.config.activation_compression_bits == 8
    with pytest.raises(ConfigError, match=r"^actnn.config: expected a "
                       r"setting among \['activation_compression_bits', .*"
                       r"found 'activaton_compression_bits'$"):
        actnn.config.activaton_compression_bits = 4
    with pytest.raises(ConfigError, match=r"^actnn config.activation_"
                       r"compression_bits: expected one of \(1, 2, 4, 8\), "
                       r"found 3$"):
        actnn.config.activation_compression_bits = 3
    assert actnn.config.activation_compression_bits == 8


def test_a_model_copy_and_pickle_keep_the_layers():
    model = actnn.QModule(plain_net(), default_bit=4)
    clone = copy.deepcopy(model)
    assert isinstance(clone.model[0], actnn.QConv2d)
    assert clone.model[0].controller is clone.controller
    clone(torch.randn(2, 3, 16, 16)).sum().backward()
