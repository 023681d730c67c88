"""Coupled channels found by running the model once, the differentiable
MACs, and cutting a model to a subnet (really smaller tensors, same
outputs)."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from torch.utils.flop_counter import FlopCounterMode

from gml.errors import ConfigError
from gml.models.ops.flops import count_flops
from gml.models.pruning import prune_, trace_channel_graph
from gml.mutators import DMCPMutator

from . import toy


def digits_resnet():
    cfg = Config.fromfile('configs/_base_/models/resnet_digits.py')
    torch.manual_seed(0)
    return MMPRETRAIN_MODELS.build(cfg.model)


def randomise_norms(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine parameters."""
    torch.manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
        if isinstance(module, (nn.modules.batchnorm._NormBase,
                               nn.LayerNorm)) and module.weight is not None:
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def logits(model, x):
    if hasattr(model, 'extract_feat'):
        return model.head(model.extract_feat(x))
    return model(x)


def flop_counter_macs(model, shape):
    """torch's own count of the convolutions and weight matmuls (2 FLOPs
    per multiply-accumulate), halved; attention's matmuls of two
    activations (bmm) are not in gml's convention."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(shape))
    counts = counter.get_flop_counts()['Global']
    aten = torch.ops.aten
    return sum(counts.get(op, 0) for op in (
        aten.convolution, aten.mm, aten.addmm)) // 2


def check_cuts(model, shape, kinds=('min', 'random', 'random'), seed=3):
    """Every sampled subnet: the cut model computes what the masked model
    computes, is really smaller, and its MACs (gml's counter, the traced
    cost model and torch's FlopCounterMode) agree."""
    model = randomise_norms(model)
    mutator = DMCPMutator(input_shape=shape, seed=seed)
    mutator.prepare(model)
    x = torch.randn((3, ) + tuple(shape[1:]))
    full_params = sum(p.numel() for p in model.parameters())
    assert mutator.graph.macs({}) == count_flops(model, shape, None)['flops']
    subnets = [mutator.sample(kind) for kind in kinds]
    for subnet in subnets:
        mutator.set_subnet(subnet)
        with torch.no_grad():
            masked = logits(model, x)
        mutator.set_subnet(None)
        small = copy.deepcopy(model)
        mutator.masks.strip(small)
        prune_(small, mutator.graph, subnet)
        with torch.no_grad():
            plain = logits(small, x)
        assert torch.allclose(masked, plain, atol=1e-4, rtol=1e-4), \
            float((masked - plain).abs().max())
        if subnet != mutator.full_widths():
            assert sum(p.numel() for p in small.parameters()) < full_params
        counted = count_flops(small, shape, units=None)['flops']
        assert counted == pytest.approx(mutator.graph.macs(subnet))
        assert flop_counter_macs(small, shape) == counted
    return mutator


def test_toy_units_residual_depthwise_and_classifier():
    graph = trace_channel_graph(toy.ToyNet(), (1, 3, 8, 8))
    assert set(graph.prunable()) == {'stem', 'conv1'}
    # the residual add joins the stem and conv2; the depthwise conv follows
    assert graph.units['stem'].producers == ['stem', 'conv2', 'dw']
    assert graph.units['fc'].fixed == 'model output'
    assert graph.macs({}) == toy.ToyNet.MACS
    # hand count at stem/conv2 = 10, conv1 = 4 channels
    assert graph.macs({'stem': 10, 'conv1': 4}) == (
        9 * 3 * 10 * 64 + 9 * 10 * 4 * 64 + 9 * 4 * 10 * 64 + 9 * 10 * 16 +
        10 * 5)
    check_cuts(toy.ToyNet(), (1, 3, 8, 8))


def test_grouped_conv_prunes_whole_groups():
    graph = trace_channel_graph(toy.GroupedNet(), (1, 3, 8, 8))
    reduce = graph.units['reduce']
    # 20 input channels in 10 groups of 2 go with the grouped conv's output
    # groups of 1: 10 elements, widths in steps of 2
    assert (reduce.channels, reduce.elements, reduce.step) == (20, 10, 2)
    assert reduce.producers == ['reduce', 'grouped']
    # hand count: keep 5 of 10 groups -> reduce 10 out, grouped 5 out (2
    # per group in), expand reads 5
    assert graph.macs({'reduce': 10}) == (
        27 * 16 * 64 + 16 * 10 * 64 + 9 * 2 * 5 * 64 + 5 * 16 * 64 + 16 * 5)
    mutator = check_cuts(toy.GroupedNet(), (1, 3, 8, 8),
                         kinds=('min', 'random', 'random', 'random'))
    assert mutator.groups['reduce'].step == 2
    assert mutator.groups['reduce'].min_ch == 2


def test_concatenation_keeps_each_inputs_own_slice():
    graph = trace_channel_graph(toy.ConcatNet(), (1, 3, 8, 8))
    assert set(graph.prunable()) == {'a', 'b', 'mix'}
    # the BN over the concatenation and mix's input are cut per slice
    cuts = graph.cuts({'a': 4, 'b': 10})
    assert cuts['bn.weight'][0].tolist() == list(range(4)) + \
        list(range(10, 20))
    assert cuts['mix.weight'][1].tolist() == list(range(4)) + \
        list(range(10, 20))
    assert graph.macs({'a': 4, 'b': 10}) == (
        27 * 4 * 64 + 9 * 4 * 10 * 64 + 14 * 12 * 64 + 12 * 5)
    check_cuts(toy.ConcatNet(), (1, 3, 8, 8))


def test_channel_shuffle_and_chunk_prune_in_step():
    graph = trace_channel_graph(toy.ShuffleNet(), (1, 3, 8, 8))
    prunable = graph.prunable()
    # each branch's inner width is free; the shuffled stage channels are one
    # unit whose elements the chunk and the shuffle keep in step
    assert 'units.0.0' in prunable and 'units.1.0' in prunable
    assert 'stem' in prunable
    check_cuts(toy.ShuffleNet(), (1, 3, 8, 8),
               kinds=('min', 'random', 'random', 'random'))


def test_squeeze_excite_with_hard_sigmoid_follows_the_expansion():
    graph = trace_channel_graph(toy.SENet(), (1, 3, 8, 8))
    expand = graph.units['expand']
    # x / 6 and + 3 are scalar operands: the gate's channels are the
    # expansion's (the depthwise conv and the excite conv produce them too)
    assert expand.producers == ['expand', 'dw', 'excite']
    assert set(graph.prunable()) == {'stem', 'expand', 'squeeze'}
    check_cuts(toy.SENet(), (1, 3, 8, 8))


def test_layer_norm_over_channels_and_layer_scale():
    graph = trace_channel_graph(toy.NeXtNet(), (1, 3, 8, 8))
    stem = graph.units['stem']
    assert stem.producers == ['stem', 'dw', 'fc2']
    assert set(graph.prunable()) == {'stem', 'fc1'}
    cuts = graph.cuts({'stem': 8})
    # the layer scale and both layer norms' affine parameters follow
    for name in ('gamma', 'norm.weight', 'stem_norm.bias',
                 'head_norm.weight', 'fc.weight'):
        assert name in cuts
    check_cuts(toy.NeXtNet(), (1, 3, 8, 8))


def test_mmpretrain_resnet_residual_stages_share_one_unit():
    graph = trace_channel_graph(digits_resnet(), (1, 3, 16, 16))
    stage4 = graph.units['backbone.layer4.0.conv1']
    assert graph.units['backbone.layer4.0.conv2'].producers == [
        'backbone.layer4.0.conv2', 'backbone.layer4.0.downsample.0',
        'backbone.layer4.1.conv2']
    assert stage4.producers == ['backbone.layer4.0.conv1']
    # 4 stage outputs + 8 inner block convs
    assert len(graph.prunable()) == 12


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
    assert flop_counter_macs(model, (1, 3, 224, 224)) == macs


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        attn = (q @ k.transpose(1, 2)).softmax(-1)
        return self.proj(attn @ v)


class TinyViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)
        self.attn = Attention()
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(),
                                 nn.Linear(16, 8))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return self.fc(x[:, 0])


def test_attention_keeps_its_inner_dims_and_prunes_the_mlp():
    graph = trace_channel_graph(TinyViT(), (1, 3, 8, 8))
    assert 'matmul' in graph.units['attn.qkv'].fixed or \
        'mm' in graph.units['attn.qkv'].fixed
    assert set(graph.prunable()) == {'embed', 'mlp.0'}
    check_cuts(TinyViT(), (1, 3, 8, 8))


def test_fixed_layers_keep_their_channels_whole():
    graph = trace_channel_graph(toy.ConcatNet(), (1, 3, 8, 8),
                                fixed_layers=['b'])
    # b's input and output channels are kept: a (its input) with them
    assert "inside fixed layer 'b'" in graph.units['a'].fixed
    assert set(graph.prunable()) == {'mix'}
    assert 'b.weight' not in graph.trace.param_dims
    with pytest.raises(ConfigError, match="no module 'nope'"):
        trace_channel_graph(toy.ConcatNet(), (1, 3, 8, 8),
                            fixed_layers=['nope'])


def test_model_without_prunable_layer_is_refused():
    with pytest.raises(ConfigError, match='no prunable layer'):
        trace_channel_graph(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)),
                            (1, 3, 2, 2))
    with pytest.raises(ConfigError, match='no prunable layer wide enough'):
        DMCPMutator(input_shape=(1, 3, 4, 4)).prepare(nn.Sequential(
            nn.Conv2d(3, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Linear(4, 2)))


def test_cut_mmpretrain_resnet_equals_the_masked_supernet():
    mutator = check_cuts(digits_resnet(), (1, 3, 16, 16))
    assert mutator.subnet_flops(mutator.sample('min')) < \
        0.1 * mutator.subnet_flops(mutator.full_widths())
