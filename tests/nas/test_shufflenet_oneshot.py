"""ShuffleNetV2_OneShot: single-path execution, export, validation."""
import pytest
import torch
import torch.nn as nn

from gml.errors import ConfigError
from gml.models.backbones.shufflenet_v2_oneshot import (CANDIDATES,
                                                        ChoiceBlock,
                                                        ShuffleNetV2_OneShot)
from gml.registry import MODELS


@pytest.fixture(scope='module')
def supernet():
    torch.manual_seed(0)
    return ShuffleNetV2_OneShot()


def test_structure_and_default_space(supernet):
    blocks = [m for m in supernet.modules() if isinstance(m, ChoiceBlock)]
    assert len(blocks) == 20
    assert all(list(b.candidates) == list(CANDIDATES) for b in blocks)
    assert [len(layer) for layer in supernet.layers[:4]] == [4, 4, 8, 4]
    assert len(supernet.search_space['choices']) == 20
    assert supernet.active_subnet['choices'] == ['shuffle_3x3'] * 20
    assert supernet.feat_dim == 1024
    assert isinstance(MODELS.build(dict(type='gml.ShuffleNetV2_OneShot')),
                      ShuffleNetV2_OneShot)


def test_only_the_chosen_units_get_gradients(supernet):
    supernet.train()
    supernet.zero_grad(set_to_none=True)
    config = supernet.random_subnet(3)
    supernet.set_subnet(config)
    out = supernet(torch.randn(2, 3, 32, 32))
    assert len(out) == 1 and out[0].shape == (2, 1024, 1, 1)
    out[0].sum().backward()
    blocks = [m for m in supernet.modules() if isinstance(m, ChoiceBlock)]
    for block, name in zip(blocks, config['choices']):
        for cand, unit in block.candidates.items():
            grads = [p.grad for p in unit.parameters()]
            if cand == name:
                assert all(g is not None for g in grads)
            else:
                assert all(g is None for g in grads)
    supernet.zero_grad(set_to_none=False)
    supernet.drop_zero_grads()
    assert all(p.grad is None for p in supernet.parameters())


def test_to_static_keeps_only_chosen_units(supernet):
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in supernet.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
    supernet.eval()
    x = torch.randn(2, 3, 32, 32)
    full = sum(p.numel() for p in supernet.parameters())
    for config in (supernet.min_subnet(), supernet.max_subnet(),
                   supernet.random_subnet(11)):
        supernet.set_subnet(config)
        static = supernet.to_static()
        assert not any(isinstance(m, ChoiceBlock) for m in static.modules())
        assert sum(p.numel() for p in static.parameters()) < full / 2
        with torch.no_grad():
            assert torch.equal(supernet(x)[0], static(x)[0])
        assert static.feat_dim == supernet.feat_dim


def test_invalid_choices_raise_naming_the_key(supernet):
    bad = [dict(type='Categorical', data=list(CANDIDATES))] * 20
    bad[3] = dict(type='Categorical', data=['shuffle_3x3', 'mbconv_3x3'])
    with pytest.raises(ConfigError, match=r'choices\[3\].*mbconv_3x3'):
        ShuffleNetV2_OneShot(search_space=dict(choices=bad))
    with pytest.raises(ConfigError, match='choices'):
        ShuffleNetV2_OneShot(search_space=dict(choices=['xception'] * 19))
    config = supernet.max_subnet()
    config['choices'][5] = 'shuffle_9x9'
    with pytest.raises(ConfigError, match=r'choices\[5\]'):
        supernet.set_subnet(config)


def test_fixed_choices_and_out_indices():
    model = ShuffleNetV2_OneShot(
        search_space=dict(choices=['xception'] * 20), out_indices=(1, 3),
        with_last_layer=False)
    assert model.active_subnet['choices'] == ['xception'] * 20
    assert model.min_subnet() == model.max_subnet()
    outs = model.eval()(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [160, 640]
    assert model.feat_dim == 640
