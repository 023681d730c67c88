"""int8 QAT on torchao pt2e: the ranges the fake-quantize steps learn, the
quantized region, fusion, BatchNorm hyper-parameters, conversion, bad
settings."""
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

from gml.apis.quantize import int8_layers
from gml.errors import ConfigError
from gml.models.quantizers import TorchDefaultQuantizer
from gml.models.quantizers.pt2e.backends import resolve_backend
from gml.models.quantizers.pt2e.capture import node_module
from gml.registry import build_algorithm, build_model

DIGITS = (1, 3, 16, 16)


def digits_model(seed=0):
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    return build_model(Config.fromfile(
        'configs/_base_/models/resnet_digits.py').model)


def quantizer(**kwargs):
    return TorchDefaultQuantizer(**dict(dict(input_shape=DIGITS), **kwargs))


def fake_quants_of(graph, module, op='conv2d'):
    """(input, weight) fake-quantize modules of ``module``'s op."""
    for node in graph.graph.nodes:
        if node.op == 'call_function' and node_module(node) == module and \
                node.target.__name__.startswith(op):
            return tuple(graph.get_submodule(arg.target)
                         for arg in node.args[:2])
    raise AssertionError(module)


class ConvBlock(nn.Module):

    def __init__(self, act, eps=1e-5):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8, eps=eps)
        self.act = act
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(self.pool(self.act(self.bn(self.conv(x)))).flatten(1))


def test_backend_names():
    assert [resolve_backend(b) for b in ('fbgemm', 'x86', 'onednn',
                                         'qnnpack', 'qnn', 'xnnpack')] == \
        ['x86'] * 3 + ['xnnpack'] * 3


@pytest.mark.parametrize('kwargs, message', [
    (dict(backend='tensorrt'), "quantizer.backend: expected one of "
     r"\['fbgemm', 'onednn', 'qnn', 'qnnpack', 'x86', 'xnnpack'\] "
     r"\(qnn = qnnpack = xnnpack, fbgemm = onednn = x86\), found 'tensorrt'"),
    (dict(custom_qconfig=dict(weight_bits=9)), 'custom_qconfig.weight_bits: '
     'expected an integer from 2 to 8, found 9'),
    (dict(custom_qconfig=dict(weight_bits=1)), 'weight_bits: expected an '
     'integer from 2 to 8, found 1'),
    (dict(custom_qconfig=dict(act_bits=0)), 'custom_qconfig.act_bits: '
     'expected an integer from 1 to 8, found 0'),
    (dict(custom_qconfig=dict(w_bits=4)), r"unknown key\(s\) \['w_bits'\]"),
    (dict(custom_qconfig=dict(weight_symmetric=False)),
     'weight_symmetric: the pt2e quantizers store weights symmetric'),
    (dict(custom_qconfig=dict(act_symmetric=True)),
     'act_symmetric: the x86 backend runs unsigned'),
    (dict(custom_qconfig=dict(averaging_constant=0)),
     r'custom_qconfig\.averaging_constant: expected a number in \(0, 1\], '
     'found 0$'),
    (dict(input_shape=(3, 16, 16)), r'input_shape: expected \(1, C, H, W\)'),
])
def test_bad_settings_name_the_key(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        quantizer(**kwargs)


def test_observed_ranges_equal_hand_computed_ones():
    model = digits_model()
    prepared = quantizer().prepare(model)
    x = torch.rand(8, 3, 16, 16) * 4 - 1
    prepared.train()
    prepared(x)
    act, weight = fake_quants_of(prepared.net, 'backbone.conv1')
    # weights: symmetric per output channel over the conv weight scaled by
    # the BN it is fused with (gamma 1, running variance 1 at the start);
    # the fused kernel fits the larger side to its end of [-128, 127]
    fused = model.backbone.conv1.weight.detach() / (1 + 1e-5) ** 0.5
    low, high = fused.amin(dim=(1, 2, 3)), fused.amax(dim=(1, 2, 3))
    assert (weight.quant_min, weight.quant_max) == (-128, 127)
    assert torch.allclose(weight.scale,
                          torch.maximum(-low / 128, high / 127), rtol=1e-5)
    assert weight.zero_point.abs().sum() == 0
    # activations: unsigned affine over [min(x, 0), max(x, 0)] of the batch
    span = max(x.max().item(), 0) - min(x.min().item(), 0)
    assert act.quant_min == 0 and act.quant_max == 255
    assert act.scale.item() == pytest.approx(span / 255, rel=1e-5)
    assert act.zero_point.item() == round(-x.min().item() / (span / 255))
    # eval: the ranges stay put
    prepared.eval()
    prepared(x * 10)
    assert act.scale.item() == pytest.approx(span / 255, rel=1e-5)


def test_custom_qconfig_sets_the_grid():
    prepared = quantizer(custom_qconfig=dict(
        weight_bits=4, act_bits=6, per_channel=False)).prepare(digits_model())
    act, weight = fake_quants_of(prepared.net, 'backbone.layer1.0.conv1')
    assert (weight.quant_min, weight.quant_max) == (-7, 7)
    assert weight.qscheme == torch.per_tensor_symmetric
    assert (act.quant_min, act.quant_max) == (0, 63)
    mobile = TorchDefaultQuantizer(backend='qnnpack', input_shape=DIGITS)
    act, weight = fake_quants_of(mobile.prepare(digits_model()).net,
                                 'backbone.conv1')
    assert act.dtype == torch.int8 and weight.qscheme == \
        torch.per_channel_symmetric


def test_region_and_conversion_to_int8():
    torch.manual_seed(1)
    q = quantizer(input_layer='backbone.layer1',
                  output_layer='backbone.layer3')
    prepared = q.prepare(digits_model())
    prepared.train()
    for _ in range(3):
        prepared(torch.randn(16, 3, 16, 16))
    prepared.eval()
    # the stem and layer4 have no fake-quantized weights
    for module, expected in [('backbone.conv1', False),
                             ('backbone.layer1.0.conv1', True),
                             ('backbone.layer3.1.conv2', True),
                             ('backbone.layer4.0.conv1', False)]:
        node = next(n for n in prepared.net.graph.nodes
                    if node_module(n) == module and
                    getattr(n.target, '__name__', '').startswith('conv2d'))
        assert (node.args[1].op == 'call_module') is expected, module
    int8 = q.convert(prepared)
    # layer1 4 convs, layer2 and layer3 4 + 1 shortcut each
    assert int8_layers(int8.net) == {'int8': {'conv': 14, 'linear': 0},
                                     'fp32': {'conv': 6, 'linear': 1}}
    names = dict(int8.net.named_parameters()) | dict(int8.net.named_buffers())
    assert 'backbone.layer2.0.conv1.weight' not in names  # fp32 copy dropped
    assert 'backbone.layer4.0.conv1.weight' in names      # outside: fp32
    x = torch.randn(32, 3, 16, 16)
    with torch.no_grad():
        simulated, real = prepared(x), int8(x)
    # int8 kernels round where the fake-quantized graph does not: measured
    # (this seed) a largest difference of 4.0% of the largest logit and the
    # same class for 32 of 32 inputs of this untrained model
    assert (real - simulated).abs().max() < 0.05 * simulated.abs().max()
    assert (real.argmax(1) == simulated.argmax(1)).float().mean() >= 0.9
    assert int8(torch.randn(1, 3, 16, 16)).shape == (1, 10)  # any batch


def test_region_names_are_checked():
    with pytest.raises(ConfigError, match=r"input_layer: the model has no "
                       r"module 'backbone.conv'; close matches: "
                       r"\['backbone.conv1'"):
        quantizer(input_layer='backbone.conv').prepare(digits_model())
    with pytest.raises(ConfigError, match="output_layer: the model has no "
                       "module 'head.fc1'; close matches: "):
        quantizer(output_layer='head.fc1').prepare(digits_model())
    with pytest.raises(ConfigError, match="input_layer 'backbone.layer3' "
                       "runs after output_layer 'backbone.layer1'"):
        quantizer(input_layer='backbone.layer3',
                  output_layer='backbone.layer1').prepare(digits_model())


def test_fuse_config_is_checked_against_the_graph():
    groups = {'backbone': [['conv1', 'bn1', 'relu']],
              'backbone.layer1.0': ['conv2', 'bn2']}
    quantizer(fuse_config=groups).prepare(digits_model())
    with pytest.raises(ConfigError, match=r"fuse_config\['backbone'\]: the "
                       r"model has no module 'backbone.bn'; close matches: "
                       r"\['backbone.bn1'"):
        quantizer(fuse_config={'backbone': [['conv1', 'bn']]}).prepare(
            digits_model())
    with pytest.raises(ConfigError, match='cannot fuse backbone.conv1 -> '
                       'backbone.relu: backbone.relu does not take the output'
                       ' of backbone.conv1'):
        quantizer(fuse_config={'backbone': ['conv1', 'relu']}).prepare(
            digits_model())
    with pytest.raises(ConfigError, match=r"fuse_config\['backbone'\]: a "
                       r"fused group needs two or more modules, found "
                       r"\['conv1'\]$"):
        quantizer(fuse_config={'backbone': [['conv1']]}).prepare(
            digits_model())
    # XNNPACK quantizes a conv's output before a ReLU6: not fusable there
    mobile = TorchDefaultQuantizer(backend='xnnpack', input_shape=(1, 3, 8, 8),
                                   fuse_config={'': [['conv', 'bn', 'act']]})
    with pytest.raises(ConfigError, match="backend 'xnnpack' cannot fuse bn "
                       '-> act: a quantize step separates them'):
        mobile.prepare(ConvBlock(nn.ReLU6()))
    mobile.fuse_config = {'': [['conv', 'bn', 'act']]}
    mobile.prepare(ConvBlock(nn.ReLU()))


def test_batchnorm_keeps_its_own_eps():
    torch.manual_seed(0)
    model = ConvBlock(nn.ReLU(), eps=1e-3).eval()
    with torch.no_grad():  # small variances: eps matters
        model.bn.running_var.uniform_(1e-4, 1e-3)
        model.bn.running_mean.uniform_(-0.1, 0.1)
    q = TorchDefaultQuantizer(input_shape=(1, 3, 8, 8))
    prepared = q.prepare(model).eval()
    x = torch.randn(16, 3, 8, 8)
    from torchao.quantization.pt2e import (disable_fake_quant,
                                           enable_fake_quant)
    prepared.net.apply(disable_fake_quant)
    with torch.no_grad():
        graph_out, eager_out = prepared(x), model(x)
        model.bn.eps = 1e-5
        wrong_eps = model(x)
        model.bn.eps = 1e-3
    assert torch.allclose(graph_out, eager_out, atol=1e-5)
    assert not torch.allclose(graph_out, wrong_eps, atol=1e-2)
    # train -> eval switches rebuild BN: the eps survives them
    prepared.train()
    prepared.eval()
    with torch.no_grad():
        assert torch.allclose(prepared(x), eager_out, atol=1e-5)
    prepared.train()
    prepared.net.apply(enable_fake_quant)
    for _ in range(3):
        prepared(torch.randn(16, 3, 8, 8))
    prepared.eval()
    int8 = q.convert(prepared)
    with torch.no_grad():
        simulated, real = prepared(x), int8(x)
    assert (real - simulated).abs().max() < 0.05 * simulated.abs().max()


class Gate(nn.Module):

    def forward(self, x):
        if x.sum() > 0:  # data-dependent Python control flow
            return x
        return -x


def test_a_model_export_cannot_capture_names_the_blocking_line():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), Gate(), nn.Flatten(),
                          nn.Linear(4 * 36, 2))
    with pytest.raises(ConfigError) as info:
        build_algorithm(dict(type='gml.QAT', model=model, quantizer=dict(
            type='gml.TorchDefaultQuantizer', input_shape=(1, 3, 8, 8))))
    message = str(info.value)
    assert message.startswith('algorithm.model: torch.export cannot capture '
                              'the model for quantization')
    assert "blocked in module '1' (Gate) at " in message
    assert 'test_int8_qat.py' in message
    assert message.splitlines()[1].endswith('if x.sum() > 0:  # '
                                            'data-dependent Python control '
                                            'flow')


def test_wrong_input_size_says_which_shape_to_set():
    prepared = quantizer().prepare(digits_model())
    with pytest.raises(ConfigError, match=r'input_shape: the model was '
                       r'captured for inputs of \(3, 16, 16\) .* the data '
                       r'gives \(3, 32, 32\); set input_shape=\(1, 3, 32, '
                       r'32\)'):
        prepared(torch.randn(2, 3, 32, 32))


def test_checkpoint_restores_weights_and_ranges():
    config = dict(type='gml.QAT', model=digits_model(),
                  quantizer=dict(type='gml.TorchDefaultQuantizer',
                                 input_shape=DIGITS,
                                 output_layer='backbone'))
    first = build_algorithm(config)
    first.train()
    optim = torch.optim.SGD(first.parameters(), lr=0.1)
    for _ in range(2):
        first(torch.randn(8, 3, 16, 16)).sum().backward()
        optim.step()
    state = first.state_dict()
    assert any('activation_post_process' in k and k.endswith('.scale')
               for k in state)
    second = build_algorithm(dict(config, model=digits_model(seed=5)))
    second.load_state_dict(state)
    x = torch.randn(4, 3, 16, 16)
    first.eval()
    second.eval()
    with torch.no_grad():
        assert torch.equal(first(x), second(x))
