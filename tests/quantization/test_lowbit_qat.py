"""Low-bit QAT around an ordinary model: which layers are quantized, what
a quantized layer computes, bad settings, and training from a config."""
import re
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from gml.errors import ConfigError
from gml.models.quantizers import (LowBitQuantizer, LSQQuantizer,
                                   QuantConv2d, QuantLinear)
from gml.registry import build_algorithm

from ..conftest import run_tool

CONFIG = 'configs/quantization/lsq/lsq_w4a4_resnet_digits.py'


def digits_model():
    torch.manual_seed(0)
    cfg = Config.fromfile('configs/_base_/models/resnet_digits.py')
    return cfg.model


def test_first_and_last_layers_stay_full_precision():
    algo = build_algorithm(dict(
        type='gml.QAT', model=digits_model(),
        quantizer=dict(type='gml.LowBitQuantizer', method='lsq',
                       weight_bits=4, act_bits=4)))
    model = algo.model
    assert type(model.backbone.conv1) is nn.Conv2d        # first
    assert type(model.head.fc) is nn.Linear               # last
    assert isinstance(model.backbone.layer1[0].conv1, QuantConv2d)
    assert isinstance(model.backbone.layer4[0].downsample[0], QuantConv2d)
    # 16 block convs + 3 shortcuts
    assert len(algo.quantizer.quantized_layers) == 19
    params = dict(algo.named_parameters())
    assert 'model.backbone.layer1.0.conv1.weight_quantizer.step' in params
    assert params['model.backbone.layer1.0.conv1.weight_quantizer.step'] \
        .shape == (16, )                                   # per channel


def test_quantized_layer_computes_conv_of_quantized_tensors():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    reference = nn.Conv2d(3, 4, 3, padding=1)
    reference.load_state_dict(conv.state_dict())
    wq, aq = LSQQuantizer(3, 'weight', channels=4), LSQQuantizer(3)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), conv, nn.Flatten(),
                          nn.Linear(4 * 25, 2))
    LowBitQuantizer('lsq', 3, 3).prepare(model)
    layer = model[1]
    layer.weight_quantizer, layer.input_quantizer = wq, aq
    x = torch.rand(2, 3, 5, 5) * 3
    out = layer(x)
    expected = F.conv2d(aq(x), wq(reference.weight), reference.bias,
                        padding=1)
    assert torch.allclose(out, expected, atol=1e-6)
    assert layer.weight is conv.weight  # the same parameters, not a copy
    # quantizers off: the plain layer
    wq.enabled = aq.enabled = False
    assert torch.allclose(layer(x), reference(x), atol=1e-6)
    linear = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4),
                           nn.Linear(4, 2))
    LowBitQuantizer('dorefa', 2, 32).prepare(linear)
    assert isinstance(linear[1], QuantLinear)
    assert linear[1].input_quantizer is None   # act_bits=32


def test_bad_settings_name_the_key():
    with pytest.raises(ConfigError, match='quantizer.weight_bits: expected '
                       'an integer from 1 to 8, found 9'):
        LowBitQuantizer('lsq', weight_bits=9)
    with pytest.raises(ConfigError, match=r'^quantizer\.act_bits: expected '
                       r'an integer from 1 to 8, found 0$'):
        LowBitQuantizer('pact', act_bits=0)
    with pytest.raises(ConfigError, match=r"^quantizer\.method: expected one "
                       r"of 'dorefa', 'pact', 'lsq', 'lqnets', 'xnor', 'lq', "
                       r"found 'binary'$"):
        LowBitQuantizer('binary')
    with pytest.raises(ConfigError, match=r"^quantizer\.weight_bits: method "
                       r"'xnor' binarizes \(1\), found 2$"):
        LowBitQuantizer('xnor', weight_bits=2, act_bits=32)
    with pytest.raises(ConfigError, match=r'^LSQQuantizer\.bits: expected an '
                       r'integer from 2 to 8, found 1$'):
        LowBitQuantizer('lsq', weight_bits=1)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1),
                          nn.Conv2d(3, 3, 1))
    with pytest.raises(ConfigError, match=r"'1x' is not a conv or linear "
                       r"layer of the model; close matches: \['1'"):
        LowBitQuantizer('lsq', skip_layers=['1x']).prepare(model)
    with pytest.raises(ConfigError, match='no conv or linear layer left'):
        LowBitQuantizer('lsq', skip_layers=['1']).prepare(model)
    with pytest.raises(ConfigError, match=r"^algorithm\.quantizer: expected "
                       r"a dict with a 'type' \(e\.g\. gml\.LowBitQuantizer\), "
                       r"found None$"):
        build_algorithm(dict(type='gml.QAT', model=digits_model()))


@pytest.mark.slow
def test_lsq_config_fine_tunes_a_trained_baseline(tmp_path,
                                                  digits_baseline):
    checkpoint, fp32 = digits_baseline
    qat = run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                    str(tmp_path / 'qat'), '--cfg-options',
                    'train_cfg.max_epochs=1',
                    f'algorithm.pretrained={checkpoint}'])
    assert qat.returncode == 0, qat.stderr[-3000:]
    low_bit = float(re.search(r'accuracy/top1=([0-9.]+)', qat.stdout)
                    .group(1))
    # Measured with randomness.seed 0 / 1 / 2 (the tests run seed 0): the
    # 4-epoch fp32 start reaches 88.9 / 79.9 / 93.0%, one epoch of w4a4 LSQ
    # from it 96.4 / 93.6 / 95.3%. The start is undertrained, so fine-tuning
    # still gains (+7.5 / +13.7 / +2.2 points); a 4-bit model that falls
    # below its fp32 start has lost what quantization-aware training keeps.
    assert fp32 > 75, fp32
    assert low_bit > 90 and low_bit >= fp32 - 1, (fp32, low_bit)
    state = torch.load(tmp_path / 'qat' / 'epoch_1.pth',
                       weights_only=False)['state_dict']
    # every quantized layer (16 block convs + 3 shortcuts) saved its
    # initialised weight and input steps
    weight_steps = {k: v for k, v in state.items()
                    if k.endswith('.weight_quantizer.step')}
    input_steps = [v for k, v in state.items()
                   if k.endswith('.input_quantizer.step')]
    assert len(weight_steps) == len(input_steps) == 19
    assert all(v.item() for k, v in state.items()
               if k.endswith('_quantizer.initialized'))
    assert all(v.item() > 0 for v in input_steps)
    # LSQ starts a weight step at 2 mean|w| / sqrt(Qp) (Qp = 7 at 4 bits)
    # per output channel and learns it slowly: after one epoch it is
    # within 1.3% of that formula on the saved weights (seeds 0-2)
    for key, step in weight_steps.items():
        weight = state[key.replace('weight_quantizer.step', 'weight')]
        start = 2 * weight.abs().flatten(1).mean(1) / 7 ** 0.5
        assert torch.allclose(step, start, rtol=0.05), key
    missing = run_tool([sys.executable, 'tools/train.py', CONFIG,
                        '--work-dir', str(tmp_path / 'x'), '--cfg-options',
                        'algorithm.pretrained=no/such.pth'])
    assert missing.returncode == 2 and 'Traceback' not in missing.stderr
    assert 'algorithm.pretrained: checkpoint not found: no/such.pth' in \
        missing.stderr
