"""The DMCP algorithm: targets, the sandwich with one optimizer step, the
architecture step and its own optimizer, sampling, final architectures."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from gml.errors import ConfigError
from gml.registry import build_algorithm

from ..nas.test_bignas import CountingSGD, batch

FULL, MIN = 8.762624, 0.668168  # digits ResNet MFLOPs at 16x16


def dmcp(algorithm_cfg=None, **mutator):
    cfg = Config.fromfile('configs/_base_/models/resnet_digits.py')
    model = dict(cfg.model, data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3))
    torch.manual_seed(0)
    settings = dict(target_flops='50%', flops_loss=dict(type='l1'))
    settings.update(algorithm_cfg or {})
    return build_algorithm(dict(
        type='gml.DMCP', model=model, algorithm_cfg=settings,
        mutator=dict(type='gml.DMCPMutator', input_shape=(1, 3, 16, 16),
                     seed=0, **mutator)))


def alphas_of(algo):
    return {n: algo.mutator.alpha(n).clone() for n in algo.mutator.groups}


def test_targets_and_bounds():
    algo = dmcp()
    assert algo.min_flops == pytest.approx(MIN)
    assert algo.max_flops == pytest.approx(FULL)
    assert algo.target_flops == pytest.approx(FULL / 2)
    assert dmcp(dict(target_flops=3.0)).target_flops == 3.0
    for bad in (0.5, 9.0, '120%'):
        with pytest.raises(ConfigError) as info:
            dmcp(dict(target_flops=bad))
        message = str(info.value)
        assert 'algorithm.algorithm_cfg.target_flops' in message
        assert 'min subnet has 0.668168 MFLOPs' in message
        assert 'full model 8.76262 MFLOPs' in message
    with pytest.raises(ConfigError, match="e.g. '50%'"):
        dmcp(dict(target_flops='half'))
    with pytest.raises(ConfigError, match='unknown keys'):
        dmcp(dict(arch_start=3))
    with pytest.raises(ConfigError, match='mutator.num_sample'):
        dmcp(num_sample=3)
    with pytest.raises(ConfigError, match="'sandwich' is not one of"):
        dmcp(num_sample=1, arch_sample_type=['sandwich'])
    with pytest.raises(ConfigError, match='max subnet must come first'):
        dmcp(arch_sample_type=['min', 'max', 'arch_random', 'arch_random'])


def test_architecture_parameters_stay_out_of_the_weight_optimizer():
    algo = dmcp()
    alpha_ids = {id(algo.mutator.alpha(n)) for n in algo.mutator.groups}
    assert not alpha_ids & {id(p) for p in algo.parameters()}
    assert not any('alphas' in n for n, _ in algo.named_parameters())
    state = algo.state_dict()
    assert state['mutator.alphas.backbone__layer4__0__conv2'].shape == (9, )
    # before arch_start_training: weight decay and steps leave them alone
    algo = dmcp(dict(arch_start_training=100))
    before = alphas_of(algo)
    optim = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.1,
                                         weight_decay=0.5))
    for _ in range(3):
        log = algo.train_step(batch(), optim)
    assert 'expected_mflops' not in log
    for name, value in alphas_of(algo).items():
        assert torch.equal(value, before[name]), name


def test_one_optimizer_step_per_batch_with_inplace_distillation():
    algo = dmcp(dict(arch_start_training=0))
    CountingSGD.steps = CountingSGD.zero_grads = 0
    wrapper = OptimWrapper(CountingSGD(algo.parameters(), lr=0.1))
    widths = []
    algo.model.head.register_forward_pre_hook(
        lambda mod, args: widths.append(args[0][-1].shape[1]))
    log = algo.train_step(batch(), wrapper)
    assert CountingSGD.steps == 1 and CountingSGD.zero_grads == 1
    assert set(log) == {'loss_0_max', 'loss_1_min', 'loss_2_scheduled_random',
                        'loss_3_arch_random', 'loss', 'arch_task_loss',
                        'arch_flops_loss', 'expected_mflops'}
    assert int(algo.iteration) == 1
    # the head sees full-width features (masked channels are zero)
    assert widths and all(w == 128 for w in widths)
    # the non-max subnets learn the max subnet's logits, not the labels:
    # their loss is a KL divergence, zero when the outputs agree
    algo.mutator.set_subnet(None)
    x = algo.data_preprocessor(batch(), True)['inputs']
    logits = algo.model(x, mode='tensor').detach()
    assert algo.distill(logits, logits).item() == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize('probability', ['sigmoid', 'exp'])
def test_architecture_step_moves_only_alphas_toward_the_target(probability):
    init, lr = (5.0, 5.0) if probability == 'sigmoid' else (0.01, 0.5)
    algo = dmcp(dict(target_flops=3.0), probability=probability,
                init_alpha=init, arch_optimizer='sgd', arch_learning_rate=lr)
    inputs = algo.data_preprocessor(batch(), True)
    weights = {k: v.clone() for k, v in algo.model.state_dict().items()}
    flops = []
    for _ in range(4):
        log = algo.arch_step(inputs['inputs'], inputs['data_samples'])
        flops.append(log['expected_mflops'].item())
    assert flops[0] > 7.0
    assert all(b < a for a, b in zip(flops, flops[1:])), flops
    # weights and BN running statistics untouched; no gradients left
    for key, value in algo.model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert all(p.grad is None for p in algo.parameters())
    assert all(s is None for s in algo.mutator._scales.values())


def test_arch_optimizer_state_survives_a_checkpoint():
    algo = dmcp(dict(arch_start_training=0))
    optim = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.0))
    for _ in range(2):
        algo.train_step(batch(), optim)
    state = algo.state_dict()
    assert 'mutator.arch_optimizer.0.exp_avg' in state
    restored = dmcp(dict(arch_start_training=0))
    restored.load_state_dict(state)
    assert int(restored.iteration) == 2
    inputs = algo.data_preprocessor(batch(), True)
    for a in (algo, restored):
        a.arch_step(inputs['inputs'], inputs['data_samples'])
    for name, value in alphas_of(algo).items():
        assert torch.allclose(value, restored.mutator.alpha(name)), name
    # a fresh Adam (no moments) would have moved differently
    fresh = dmcp(dict(arch_start_training=0))
    fresh.load_state_dict({k: v for k, v in state.items()
                           if 'arch_optimizer' not in k})
    fresh.arch_step(inputs['inputs'], inputs['data_samples'])
    assert any(not torch.allclose(v, fresh.mutator.alpha(n))
               for n, v in alphas_of(algo).items())


def test_scheduled_random_switches_to_markov_samples():
    algo = dmcp(scheduled_decay=0.5, scheduled_every=10)
    mutator = algo.mutator
    assert mutator.random_probability(0) == 1.0
    assert mutator.random_probability(19) == 0.5
    assert mutator.random_probability(25) == 0.25
    for name in mutator.groups:  # direct samples are then the min subnet
        mutator.alpha(name).fill_(-30.0)
    minimum = mutator.sample('min')
    before = [mutator.sample('scheduled_random', False, 0) for _ in range(30)]
    assert sum(s == minimum for s in before) < 5  # uniform random draws
    late = [mutator.sample('scheduled_random', True, 1000)
            for _ in range(200)]  # p = 0.5 ** 100
    assert all(s == minimum for s in late)
    mid = [mutator.sample('scheduled_random', True, 10) for _ in range(400)]
    share = sum(s == minimum for s in mid) / 400
    assert 0.4 < share < 0.6  # half random, half Markov (= min here)
    assert mutator.sample('arch_random', True) == minimum


def test_final_architectures_are_within_the_tolerance():
    algo = dmcp()
    gen = torch.Generator().manual_seed(1)
    noise = {n: torch.randn(9, generator=gen) for n in algo.mutator.groups}
    low, high = -5.0, 10.0  # bisect a shift putting E[FLOPs] at the target
    for _ in range(40):
        shift = (low + high) / 2
        for name, value in noise.items():
            algo.mutator.alpha(name).copy_(value + shift)
        if algo.mutator.expected_flops().item() > algo.target_flops:
            high = shift
        else:
            low = shift
    archs = algo.final_archs(num=5, tolerance=0.03)
    target = algo.target_flops
    assert archs['expected']['mflops'] == pytest.approx(target, rel=0.03)
    assert len(archs['samples']) == 5
    for arch in [archs['expected']] + archs['samples']:
        assert abs(arch['mflops'] - target) <= 0.03 * target
        assert arch['mflops'] == pytest.approx(
            algo.mutator.subnet_flops(arch['subnet']))
        algo.mutator.check_subnet(arch['subnet'])
