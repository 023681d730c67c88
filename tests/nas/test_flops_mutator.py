"""gml.FlopsMutator: random subnets spread evenly over a FLOPs range."""
import collections

import pytest
from mmengine.registry import init_default_scope

from gml.errors import ConfigError
from gml.mutators import StatelessMutator
from gml.registry import build_algorithm
from gml.utils.config import load_config

from ..conftest import REPO

CONFIG = f'{REPO}/configs/nas/bignas/bignas_resnet_digits.py'
# The digits supernet's min subnet at 12 px (input 16 px, resized): stem
# 3*16*9*144; stage widths 8/16/32/64 with one basic block each at 12, 6, 3
# and 2 px, a 1x1 shortcut in every block (widths differ); classifier 64*10.
MIN_MFLOPS = (3 * 16 * 9 * 144 +
              (16 * 8 * 9 + 8 * 8 * 9 + 16 * 8) * 144 +
              (8 * 16 * 9 + 16 * 16 * 9 + 8 * 16) * 36 +
              (16 * 32 * 9 + 32 * 32 * 9 + 16 * 32) * 9 +
              (32 * 64 * 9 + 64 * 64 * 9 + 32 * 64) * 4 + 64 * 10) / 1e6


def _algorithm(**mutator):
    cfg = load_config(CONFIG)
    init_default_scope('mmpretrain')
    algorithm = dict(cfg.algorithm)
    algorithm['mutator'] = dict(type='gml.FlopsMutator',
                                input_shape=(1, 3, 16, 16), **mutator)
    return build_algorithm(algorithm)


def _quarters(flops, lo, hi):
    width = (hi - lo) / 4
    counts = collections.Counter(min(int((f - lo) / width), 3)
                                 for f in flops)
    return [counts[q] / len(flops) for q in range(4)]


@pytest.fixture(scope='module')
def mutator():
    return _algorithm(num_buckets=4, seed=0).mutator


def test_range_defaults_to_the_span_of_the_supernet(mutator):
    assert MIN_MFLOPS == pytest.approx(0.817536)
    assert mutator.lo == pytest.approx(MIN_MFLOPS, abs=1e-9)
    assert mutator.hi == mutator.cost.flops(mutator.sample('max'))
    assert mutator.hi > 10 * mutator.lo


def test_samples_spread_evenly_over_flops(mutator):
    flops = [mutator.cost.flops(mutator.sample()) for _ in range(200)]
    spread = _quarters(flops, mutator.lo, mutator.hi)
    assert all(0.15 <= share <= 0.35 for share in spread), spread
    # uniform draws over the genes almost never reach the top quarter
    plain = StatelessMutator(seed=0)
    plain.prepare(mutator.cost.model)
    genes = [mutator.cost.flops(plain.sample()) for _ in range(200)]
    assert _quarters(genes, mutator.lo, mutator.hi)[3] < 0.05


def test_samples_stay_inside_the_range_and_repeat_with_the_seed():
    first = _algorithm(flops_range=(2.0, 4.0), seed=3).mutator
    samples = [first.sample() for _ in range(30)]
    assert all(2.0 <= first.cost.flops(s) <= 4.0 for s in samples)
    again = _algorithm(flops_range=(2.0, 4.0), seed=3).mutator
    assert [again.sample() for _ in range(30)] == samples
    assert first.sample('max') == StatelessMutator.sample(first, 'max')


def test_a_range_outside_the_supernet_fails_at_build_naming_the_key():
    with pytest.raises(ConfigError, match=r'mutator\.flops_range: \(100, '
                       r'200\) MFLOPs holds no subnet: the subnets of this '
                       r'supernet span \[0\.8175, 8\.763\] MFLOPs'):
        _algorithm(flops_range=(100, 200))


def test_a_range_between_subnets_fails_at_build():
    # every single change to the min subnet (one more block, a wider stage,
    # 16 px) adds more than 0.02 MFLOPs: nothing lies just above it
    with pytest.raises(ConfigError, match=r'mutator\.flops_range: no '
                       r'subnet found in \(0\.82, 0\.84\)'):
        _algorithm(flops_range=(0.82, 0.84), max_tries=10)


@pytest.mark.parametrize('key,value,expected', [
    ('flops_range', (5, 1), 'mutator.flops_range: expected (lo, hi)'),
    ('flops_range', 5, 'mutator.flops_range: expected (lo, hi)'),
    ('num_buckets', 0, 'mutator.num_buckets'),
    ('max_tries', 'many', 'mutator.max_tries'),
])
def test_bad_settings_are_clear(key, value, expected):
    with pytest.raises(ConfigError, match=expected.replace('(', r'\(')
                       .replace(')', r'\)')):
        _algorithm(**{key: value})
