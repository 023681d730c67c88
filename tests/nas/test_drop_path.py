"""Drop-path really drops residual branches at the configured rate; under
BigNAS at the algorithm's ratio, for the max subnet only."""
import math

import pytest
import torch
from mmengine.optim import OptimWrapper

from gml.errors import ConfigError
from gml.models.backbones import (MobileNetV3Slice, ResNetSlice,
                                  ShuffleNetV2_OneShot)
from gml.models.ops import DropPath
from gml.registry import build_algorithm

from .test_bignas import SUPERNET as TOY_SUPERNET
from .test_bignas import batch


def near_binomial(dropped: int, trials: int, p: float) -> bool:
    """``dropped`` within 4.5 standard deviations of Binomial(trials, p)."""
    return abs(dropped - trials * p) <= 4.5 * math.sqrt(trials * p * (1 - p))


class DropCounter:
    """Counts, per call of a DropPath, the samples it zeroed."""

    def __init__(self, op: DropPath):
        self.calls = []  # (zeroed samples, samples) per forward
        op.register_forward_hook(self._hook)

    def _hook(self, module, args, out):
        x = args[0]
        live = x.flatten(1).abs().sum(1) > 0
        zeroed = (out.flatten(1) == 0).all(1) & live
        self.calls.append((int(zeroed.sum()), int(live.sum())))

    def totals(self, calls=None):
        calls = self.calls if calls is None else calls
        return sum(z for z, _ in calls), sum(n for _, n in calls)


def test_drop_path_zeroes_whole_samples_at_its_rate():
    torch.manual_seed(0)
    op = DropPath(share=0.5, ratio=0.4)
    assert op.prob == pytest.approx(0.2)
    x = torch.rand(20000, 3, 2, 2) + 1
    out = op.train()(x)
    zeroed = (out.flatten(1) == 0).all(1)
    assert near_binomial(int(zeroed.sum()), 20000, 0.2)
    # the kept samples are scaled so the expectation is unchanged
    assert torch.allclose(out[~zeroed], x[~zeroed] / 0.8)
    assert torch.equal(op.eval()(x), x)
    op.set_ratio(0.0)
    assert torch.equal(op.train()(x), x)


def _resnet(ratio):
    model = ResNetSlice(18, cifar_stem=True, zero_init_residual=False,
                        drop_path_ratio=ratio, search_space=dict(
                            stem_channels=8,
                            stage_out_channel=[8, 8, 16, 16]))
    return model, model.stages[3][1], torch.randn(32, 3, 8, 8)


def _shufflenet(ratio):
    model = ShuffleNetV2_OneShot(drop_path_ratio=ratio, stem_channels=8,
                                 stage_channels=(16, 32, 64, 128),
                                 last_channels=64)
    block = model.layers[3][-1].candidates['shuffle_3x3']
    return model, block, torch.randn(32, 3, 32, 32)


def _mobilenet(ratio):
    model = MobileNetV3Slice(drop_path_ratio=ratio, zero_init_residual=False)
    model.set_subnet(model.min_subnet())
    block = model.blocks[model.stage_blocks[-2][2]]  # identity, in mb6
    return model, block, torch.randn(64, 3, 16, 16)


@pytest.mark.parametrize('build', [_resnet, _shufflenet, _mobilenet])
def test_a_backbone_block_drops_at_ratio_times_its_share(build):
    torch.manual_seed(0)
    ratio = 0.6
    model, block, x = build(ratio)
    ops = [m for m in model.modules() if isinstance(m, DropPath)]
    assert ops and all(op.prob == pytest.approx(ratio * op.share)
                       for op in ops)
    assert max(op.share for op in ops) < 1  # the first block never drops
    p = block.drop_path.prob
    assert p > 0.3
    counter = DropCounter(block.drop_path)
    model.train()
    with torch.no_grad():
        while counter.totals()[1] < 600:
            model(x)
    assert near_binomial(*counter.totals(), p)
    model.set_drop_path(0.0)
    counter.calls.clear()
    with torch.no_grad():
        for _ in range(3):
            model(x)
    assert counter.totals()[0] == 0 and counter.totals()[1] > 0
    with pytest.raises(ConfigError, match='set_drop_path'):
        model.set_drop_path(1.0)


# the toy supernet of test_bignas around a small ResNetSlice
SUPERNET = dict(
    TOY_SUPERNET,
    backbone=dict(type='gml.ResNetSlice', depth=18, cifar_stem=True,
                  out_indices=(3, ), zero_init_residual=False,
                  search_space=dict(
                      stem_channels=8,
                      stage_out_channel=[
                          dict(type='Categorical', data=[4, 8]),
                          dict(type='Categorical', data=[8, 16]),
                          dict(type='Categorical', data=[8, 16]),
                          dict(type='Categorical', data=[16, 32])],
                      stage_blocks=[dict(type='Int', lower=1, upper=3)] * 4)),
    head=dict(TOY_SUPERNET['head'], in_channels=32))


def bignas(backbone=None, head=None, **kwargs):
    model = dict(SUPERNET, backbone=dict(SUPERNET['backbone'],
                                         **(backbone or {})),
                 head=dict(SUPERNET['head'], **(head or {})))
    torch.manual_seed(0)
    return build_algorithm(dict(
        type='gml.BigNAS', model=model, strategy='sandwich4',
        mutator=dict(type='gml.StatelessMutator', seed=0), **kwargs))


def test_bignas_drops_paths_at_its_ratio_in_the_max_subnet_only():
    algo = bignas(drop_path_ratio=0.4)
    backbone = algo.model.backbone
    ops = [m for m in backbone.modules() if isinstance(m, DropPath)]
    assert all(op.prob == 0 for op in ops)  # off outside the training step
    block = backbone.stages[3][0]  # runs in every subnet; share 6 / 8
    assert block.drop_path.share == pytest.approx(0.75)
    counter = DropCounter(block.drop_path)
    wrapper = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.01))
    data = batch(32)
    for _ in range(20):
        algo.train_step(data, wrapper)
    calls = counter.calls
    assert len(calls) == 4 * 20  # max, random, random, min per batch
    max_calls = calls[0::4]
    others = [c for i, c in enumerate(calls) if i % 4]
    dropped, trials = counter.totals(max_calls)
    assert trials == 32 * 20
    assert near_binomial(dropped, trials, 0.4 * 0.75)
    assert counter.totals(others)[0] == 0  # random and min subnets: none
    assert all(op.prob == 0 for op in ops)  # and off again after the step


def test_bignas_without_drop_path_drops_nothing():
    algo = bignas()
    counter = DropCounter(algo.model.backbone.stages[3][0].drop_path)
    wrapper = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.01))
    for _ in range(3):
        algo.train_step(batch(16), wrapper)
    assert counter.totals()[0] == 0 and len(counter.calls) == 12


def test_the_model_may_repeat_the_algorithms_ratio_but_not_contradict_it():
    algo = bignas(backbone=dict(drop_path_ratio=0.2), drop_path_ratio=0.2,
                  head=dict(dropout=0.1), drop_ratio=0.1)
    # the algorithm's rule holds: nothing drops outside the max subnet
    assert all(m.prob == 0 for m in algo.model.backbone.modules()
               if isinstance(m, DropPath))
    assert algo.model.head.dropout.p == 0
    with pytest.raises(ConfigError, match=r'model\.backbone\.drop_path_ratio:'
                       r' 0\.1 is not algorithm\.drop_path_ratio \(0\.2\)'):
        bignas(backbone=dict(drop_path_ratio=0.1), drop_path_ratio=0.2)
    with pytest.raises(ConfigError, match='model.backbone.drop_path_ratio'):
        bignas(backbone=dict(drop_path_ratio=0.2))
    with pytest.raises(ConfigError, match='model.head.dropout'):
        bignas(head=dict(dropout=0.3), drop_ratio=0.2)
    with pytest.raises(ConfigError, match='algorithm.drop_path_ratio'):
        bignas(drop_path_ratio=1.0)
