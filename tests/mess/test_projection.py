"""Projecting models: which layers, what they become, every version."""
import copy

import numpy as np
import pytest
import torch
import torch.nn as nn

from gml.errors import ConfigError
from gml.models.mess import MESSOptions, find_families, project, quantize

from .test_fit import brute_force
from .toy import ToyMobileNet, ToyResNet, seeded


def options(**kwargs):
    return MESSOptions.create(**kwargs)


def test_families_of_a_resnet_and_a_mobilenet():
    resnet = find_families(ToyResNet())
    assert [(f.kind, f.names) for f in resnet] == \
        [('conv', ['stem', 'conv1', 'conv2'])]
    assert resnet[0].num_candidates() == 6
    mobile = find_families(ToyMobileNet())  # auto: depthwise -> pointwise
    assert [(f.kind, f.names) for f in mobile] == \
        [('depthwise', ['dw1', 'dw2']), ('pointwise', ['pw1', 'pw2'])]
    assert mobile[1].skipped == ['pw3']  # 12 inputs, slices of 8
    assert mobile[1].num_candidates() == 16 * 1
    assert [f.kind for f in find_families(ToyMobileNet(), False)] == \
        ['depthwise']
    four = find_families(ToyMobileNet(), True, slice_size=4)[1]
    assert four.names == ['pw1', 'pw2', 'pw3']
    assert four.num_candidates() == 16 * 5


def test_v2_rebuilds_every_kernel_from_the_brute_force_fit():
    model = seeded(ToyResNet)
    dense = copy.deepcopy(model.state_dict())
    result = project(model, options(version='v2'))
    candidates = dense['stem.weight'].reshape(-1, 9)
    assert torch.equal(model.stem.weight, dense['stem.weight'])
    for layer in result.layers:
        pieces = dense[f'{layer.name}.weight'].reshape(-1, 9)
        index, alpha, beta = brute_force(pieces, candidates)
        assert layer.index.tolist() == index.tolist()
        np.testing.assert_allclose(layer.alpha.values.numpy(), alpha,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.beta.values.numpy(), beta,
                                   rtol=1e-5, atol=1e-6)
        weight = getattr(model, layer.name).weight.reshape(-1, 9)
        expected = torch.from_numpy(alpha[:, None] * candidates[index]
                                    .double().numpy() + beta[:, None])
        torch.testing.assert_close(weight.double(), expected, rtol=1e-5,
                                   atol=1e-6)
    # what MESS does not share is left as it was
    for key in ('short.weight', 'fc.weight', 'conv2.bias', 'bn.weight'):
        assert torch.equal(model.state_dict()[key], dense[key])


def test_v2nb_has_no_offset():
    model = seeded(ToyResNet)
    dense = copy.deepcopy(model.state_dict())
    result = project(model, options(version='v2nb'))
    candidates = dense['stem.weight'].reshape(-1, 9)
    for layer in result.layers:
        assert layer.beta is None
        index, alpha, _ = brute_force(
            dense[f'{layer.name}.weight'].reshape(-1, 9), candidates, False)
        assert layer.index.tolist() == index.tolist()
        weight = getattr(model, layer.name).weight.reshape(-1, 9)
        expected = layer.alpha.values[:, None] * candidates[layer.index]
        assert torch.equal(weight, expected)


def test_v2qq_quantizes_weights_before_the_search_and_coefficients():
    model = seeded(ToyResNet)
    dense = copy.deepcopy(model.state_dict())
    result = project(model, options(version='v2qq', qb=3, qba=2, qbb=2))
    stem = quantize(dense['stem.weight'], 3).values()
    assert torch.equal(model.stem.weight, stem)
    assert len(torch.unique(model.stem.weight)) <= 8
    candidates = stem.reshape(-1, 9)
    for layer in result.layers:
        seen = quantize(dense[f'{layer.name}.weight'], 3).values()
        index, _, _ = brute_force(seen.reshape(-1, 9), candidates)
        assert layer.index.tolist() == index.tolist()
        assert len(torch.unique(layer.alpha.values)) <= 4
        assert len(torch.unique(layer.beta.values)) <= 4
        assert layer.alpha.quantized.bits == 2
        assert torch.equal(layer.alpha.values,
                           layer.alpha.quantized.values())
        weight = getattr(model, layer.name).weight.reshape(-1, 9)
        assert torch.equal(weight, layer.alpha.values[:, None] *
                           candidates[layer.index] +
                           layer.beta.values[:, None])


def test_v2q_keeps_float32_weights_for_the_search():
    model = seeded(ToyResNet)
    dense = copy.deepcopy(model.state_dict())
    result = project(model, options(version='v2q', qba=3, qbb=3))
    assert torch.equal(model.stem.weight, dense['stem.weight'])
    assert result.references[0].quantized is None
    index, _, _ = brute_force(dense['conv1.weight'].reshape(-1, 9),
                              dense['stem.weight'].reshape(-1, 9))
    assert result.layers[0].index.tolist() == index.tolist()
    assert len(torch.unique(result.layers[0].alpha.values)) <= 8


def test_depthwise_and_pointwise_slices():
    model = seeded(ToyMobileNet)
    dense = copy.deepcopy(model.state_dict())
    result = project(model, options(version='v2', pointwise=True,
                                    slice_size=4))
    names = [(layer.name, layer.reference, layer.num_candidates)
             for layer in result.layers]
    assert names == [('dw2', 'dw1', 8), ('pw2', 'pw1', 80),
                     ('pw3', 'pw1', 80)]
    # depthwise: each output channel's kernel against dw1's 8 kernels
    index, _, _ = brute_force(dense['dw2.weight'].reshape(-1, 9),
                              dense['dw1.weight'].reshape(-1, 9))
    assert result.layers[0].index.tolist() == index.tolist()
    # pointwise: slices of 4 inputs against every window of 4 of pw1's rows
    ref = dense['pw1.weight'][:, :, 0, 0]
    windows = torch.stack([ref[o, s:s + 4] for o in range(16)
                           for s in range(5)])
    pieces = torch.stack([dense['pw2.weight'][o, 4 * j:4 * j + 4, 0, 0]
                          for o in range(12) for j in range(4)])
    index, alpha, beta = brute_force(pieces, windows)
    layer = result.layers[1]
    assert layer.index.tolist() == index.tolist()
    rebuilt = model.pw2.weight.detach()[:, :, 0, 0].reshape(-1, 4).double()
    expected = alpha[:, None] * windows[index].double().numpy() + \
        beta[:, None]
    np.testing.assert_allclose(rebuilt.numpy(), expected, rtol=1e-5,
                               atol=1e-6)
    assert torch.equal(model.stem.weight, dense['stem.weight'])


def test_fixed_indices_are_kept_and_coefficients_refit():
    model = seeded(ToyResNet)
    first = project(copy.deepcopy(model), options(version='v2f'))
    with torch.no_grad():
        model.conv1.weight.add_(torch.randn_like(model.conv1.weight))
    again = project(copy.deepcopy(model), options(version='v2f'),
                    first.indices())
    searched = project(copy.deepcopy(model), options(version='v2qq'))
    assert torch.equal(again.layers[0].index, first.layers[0].index)
    assert not torch.equal(searched.layers[0].index, first.layers[0].index)
    assert not torch.equal(again.layers[0].alpha.values,
                           first.layers[0].alpha.values)
    with pytest.raises(ConfigError, match='fixed indices of conv1'):
        project(model, options(version='v2f'),
                {'conv1': torch.zeros(3, dtype=torch.int64)})


def test_a_model_without_compressible_kernels_is_refused():
    lone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 5),
                         nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(ConfigError, match='no compressible kernel'):
        project(lone, options())
    with pytest.raises(ConfigError, match='no compressible kernel'):
        project(nn.Linear(3, 2), options(pointwise=True))


def test_non_finite_weights_are_refused():
    model = ToyResNet()
    with torch.no_grad():
        model.conv2.weight[0, 0, 0, 0] = float('nan')
    with pytest.raises(ConfigError, match='conv2.weight has NaN'):
        project(model, options())


@pytest.mark.parametrize('kwargs, key', [
    (dict(version='v3'), 'version'), (dict(qb=9), 'qb'),
    (dict(qba=0), 'qba'), (dict(qbb=2.5), 'qbb'), (dict(qb=True), 'qb'),
    (dict(pointwise='yes'), 'pointwise'), (dict(slice_size=0), 'slice_size'),
])
def test_bad_options_name_their_key(kwargs, key):
    with pytest.raises(ConfigError, match=f'^X.{key}: expected'):
        MESSOptions.create('X.', **kwargs)
