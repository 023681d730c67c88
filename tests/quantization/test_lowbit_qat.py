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
                       r"of 'dorefa', 'pact', 'lsq', 'lqnets', 'xnor', found "
                       r"'binary'$"):
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
    assert fp32 > 80 and low_bit > fp32 - 15, (fp32, low_bit)
    state = torch.load(tmp_path / 'qat' / 'epoch_1.pth', weights_only=False)
    steps = state['state_dict'][
        'model.backbone.layer2.0.conv1.input_quantizer.step']
    assert steps.item() > 0
    missing = run_tool([sys.executable, 'tools/train.py', CONFIG,
                        '--work-dir', str(tmp_path / 'x'), '--cfg-options',
                        'algorithm.pretrained=no/such.pth'])
    assert missing.returncode != 0 and 'Traceback' not in missing.stderr
    assert 'algorithm.pretrained: checkpoint not found: no/such.pth' in \
        missing.stderr
