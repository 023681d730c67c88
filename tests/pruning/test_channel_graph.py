"""Coupled channels found by tracing, the differentiable MACs, and
shrinking a model to a subnet (really smaller tensors, same outputs)."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from gml.errors import ConfigError
from gml.models.ops.flops import count_flops
from gml.models.pruning import module_sizes, shrink_, trace_channel_graph
from gml.mutators import DMCPMutator

from .toy import ToyNet


def digits_resnet():
    cfg = Config.fromfile('configs/_base_/models/resnet_digits.py')
    torch.manual_seed(0)
    return MMPRETRAIN_MODELS.build(cfg.model)


def test_toy_units_residual_depthwise_and_classifier():
    graph = trace_channel_graph(ToyNet(), (1, 3, 8, 8))
    prunable = graph.prunable()
    assert set(prunable) == {'stem', 'conv1'}
    shared = prunable['stem']
    # the residual add joins the stem and conv2; the depthwise conv and the
    # classifier's input follow them
    assert shared.producers == ['stem', 'conv2']
    assert shared.depthwise == ['dw'] and shared.norms == ['bn', 'bn2', 'bn3']
    assert sorted(shared.consumers) == ['conv1', 'fc']
    assert prunable['conv1'].consumers == ['conv2']
    assert graph.units['fc'].fixed == 'model output'
    assert graph.macs({}) == ToyNet.MACS
    # hand count at stem/conv2 = 10, conv1 = 4 channels
    assert graph.macs({'stem': 10, 'conv1': 4}) == (
        9 * 3 * 10 * 64 + 9 * 10 * 4 * 64 + 9 * 4 * 10 * 64 + 9 * 10 * 16 +
        10 * 5)


def test_mmpretrain_resnet_residual_stages_share_one_unit():
    graph = trace_channel_graph(digits_resnet(), (1, 3, 16, 16))
    stage4 = graph.units['backbone.layer4.0.conv2']
    assert stage4.producers == ['backbone.layer4.0.conv2',
                                'backbone.layer4.0.downsample.0',
                                'backbone.layer4.1.conv2']
    assert 'head.fc' in stage4.consumers  # the classifier input follows
    assert graph.units['backbone.layer4.0.conv1'].consumers == \
        ['backbone.layer4.0.conv2']
    # 4 stage outputs + 8 inner block convs
    assert len(graph.prunable()) == 12


def test_mobilenet_v2_depthwise_follows_its_expansion():
    model = MMPRETRAIN_MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='MobileNetV2', widen_factor=0.5),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=1280)))
    graph = trace_channel_graph(model, (1, 3, 32, 32))
    expand = graph.units['backbone.layer2.0.conv.0.conv']
    assert expand.depthwise == ['backbone.layer2.0.conv.1.conv']
    assert expand.consumers == ['backbone.layer2.0.conv.2.conv']
    assert graph.units['backbone.conv2.conv'].consumers == ['head.fc']


@pytest.mark.parametrize('backbone, macs', [
    (dict(type='ResNet', depth=50), 4089184256),      # reference value
    (dict(type='MobileNetV2', widen_factor=1.0), 300774272),
])
def test_traced_macs_equal_the_counted_macs(backbone, macs):
    channels = 2048 if backbone['type'] == 'ResNet' else 1280
    model = MMPRETRAIN_MODELS.build(dict(
        type='ImageClassifier', backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000,
                  in_channels=channels)))
    graph = trace_channel_graph(model, (1, 3, 224, 224))
    assert graph.macs({}) == macs
    assert count_flops(model, (1, 3, 224, 224), units=None)['flops'] == macs


class WithConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 1)
        self.b = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class ConcatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.mid = nn.Conv2d(6, 3, 1)
        self.block = WithConcat()
        self.head = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        return self.head(self.block(self.mid(self.stem(x).relu())))


def test_unsupported_op_names_its_module_and_fixed_layers_keeps_it():
    with pytest.raises(ConfigError) as info:
        trace_channel_graph(ConcatNet(), (1, 3, 8, 8))
    message = str(info.value)
    assert "cat in 'block' (WithConcat)" in message
    assert 'fixed_layers' in message
    graph = trace_channel_graph(ConcatNet(), (1, 3, 8, 8),
                                fixed_layers=['block'])
    assert set(graph.prunable()) == {'stem'}
    assert graph.prunable()['stem'].consumers == ['mid']
    assert 'fixed layer' in graph.units['mid'].fixed


def test_model_without_prunable_layer_is_refused():
    with pytest.raises(ConfigError, match='no prunable layer'):
        trace_channel_graph(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)),
                            (1, 3, 2, 2))
    with pytest.raises(ConfigError, match='no prunable layer wide enough'):
        DMCPMutator(input_shape=(1, 3, 4, 4)).prepare(nn.Sequential(
            nn.Conv2d(3, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Linear(4, 2)))


def test_shrunk_model_equals_the_masked_supernet():
    model = digits_resnet().eval()
    for module in model.modules():  # non-trivial BN statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    mutator = DMCPMutator(input_shape=(1, 3, 16, 16), seed=3)
    mutator.prepare(model)
    x = torch.randn(4, 3, 16, 16)
    for kind in ('min', 'random', 'random'):
        subnet = mutator.sample(kind)
        mutator.set_subnet(subnet)
        with torch.no_grad():
            masked = model(x, mode='tensor')
        mutator.set_subnet(None)
        small = shrink_(copy.deepcopy(model),
                        module_sizes(mutator.graph, subnet))
        for module in small.modules():  # drop the copied masking hooks
            module._forward_hooks.clear()
        with torch.no_grad():
            plain = small(x, mode='tensor')
        assert torch.allclose(masked, plain, atol=1e-5)
        width = subnet['backbone.layer4.0.conv2']
        assert small.head.fc.in_features == width
        assert small.backbone.layer4[1].conv2.weight.shape[0] == width
        counted = count_flops(small, (1, 3, 16, 16), units=None)['flops']
        assert counted == mutator.graph.macs(subnet)
        assert counted / 1e6 == pytest.approx(mutator.subnet_flops(subnet))
    assert mutator.subnet_flops(mutator.sample('min')) < \
        0.1 * mutator.subnet_flops(mutator.full_widths())
