"""DMCP on mmpretrain's own architectures: a model config as a user writes
it, wrapped in ``gml.DMCP`` at 50% of its FLOPs, trained for two steps
(the second with the architecture step), then cut to the expected
architecture: really smaller, the same logits as the masked model, and
its MACs agreeing between the traced cost model, gml's counter and torch's
FlopCounterMode."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample
from torch.utils.flop_counter import FlopCounterMode

from gml.models.ops.flops import count_flops
from gml.registry import build_algorithm

from .architectures import ARCHITECTURES, INPUT_SHAPE, INPUT_SIZE, \
    model_config

pytestmark = pytest.mark.zoo


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Build under mmpretrain's scope, as its configs do."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


def batch(n=4):
    g = torch.Generator().manual_seed(0)
    return dict(inputs=[torch.randint(0, 255, (3, INPUT_SIZE, INPUT_SIZE),
                                      generator=g).float()
                        for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(n)])


def weight_macs(model):
    """torch's count of convolutions and weight matmuls, in MACs."""
    aten = torch.ops.aten
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(INPUT_SHAPE), mode='tensor')
    counts = counter.get_flop_counts()['Global']
    return sum(counts.get(op, 0) for op in (
        aten.convolution, aten.mm, aten.addmm)) // 2


@pytest.mark.parametrize('name', list(ARCHITECTURES))
def test_dmcp_trains_and_cuts(name):
    torch.manual_seed(0)
    algo = build_algorithm(dict(
        type='gml.DMCP', model=model_config(name),
        algorithm_cfg=dict(target_flops='50%', arch_start_training=1,
                           flops_loss=dict(type='l1')),
        mutator=dict(type='gml.DMCPMutator', input_shape=INPUT_SHAPE,
                     seed=0))).train()
    mutator = algo.mutator
    before = {k: v.clone() for k, v in algo.model.state_dict().items()}
    alphas = {n: mutator.alpha(n).clone() for n in mutator.groups}
    optim = OptimWrapper(torch.optim.SGD(algo.model.parameters(), lr=0.01,
                                         momentum=0.9))
    for _ in range(2):
        log = algo.train_step(batch(), optim)
        assert all(torch.isfinite(v).all() for v in log.values())
    assert 'arch_flops_loss' in log  # the second step trained the alphas
    assert any(not torch.equal(before[k], v) for k, v in
               algo.model.state_dict().items() if v.is_floating_point())
    assert any(not torch.equal(alphas[n], mutator.alpha(n))
               for n in mutator.groups)

    subnet = algo.final_archs(num=0)['expected']['subnet']
    cut, _ = algo.cut(subnet)  # checks the logits against the masked model
    full = algo.pruned_model()
    assert sum(p.numel() for p in cut.parameters()) < \
        sum(p.numel() for p in full.parameters())
    macs = count_flops(cut, INPUT_SHAPE, units=None)['flops']
    assert macs == pytest.approx(mutator.subnet_flops(subnet) * 1e6)
    assert weight_macs(cut) == macs
    assert count_flops(full, INPUT_SHAPE, units=None)['flops'] == \
        pytest.approx(algo.max_flops * 1e6)
    assert abs(macs / 1e6 - algo.target_flops) <= \
        algo.sample_tolerance * algo.target_flops + 1e-6
