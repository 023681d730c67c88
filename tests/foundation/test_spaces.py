"""Search-space primitives: grids, seeded sampling, validation, round trips."""
import math
import os

import pytest

from gml.space import (Categorical, File, Int, Nested, Real, SpaceError,
                       build_search_space_recur, build_space, default_of,
                       grid_of, grid_size, iter_spaces, sample_of, to_config,
                       validate_tree)


def test_int_upper_is_exclusive_as_in_the_guide():
    space = Int(lower=192, upper=289, step=32)
    assert space.grid() == [192, 224, 256, 288]
    assert (space.min, space.max, space.default) == (192, 288, 192)
    assert len(space) == 4
    assert Int(lower=0, upper=10, step=3).grid() == [0, 3, 6, 9]


def test_int_validation_names_the_range():
    space = Int(lower=192, upper=289, step=32, key='resolution')
    assert space.validate(256) == 256
    for bad in (289, 200, 160, 224.0, True):
        with pytest.raises(SpaceError, match='^resolution: '):
            space.validate(bad)
    with pytest.raises(SpaceError, match='lower 5 must be < upper 5'):
        Int(lower=5, upper=5)
    with pytest.raises(SpaceError, match='step must be a positive'):
        Int(lower=0, upper=4, step=0)
    with pytest.raises(SpaceError, match='default 7 not in range'):
        Int(lower=0, upper=10, step=2, default=7)


def test_categorical_grid_bounds_and_default():
    space = Categorical(data=[1984, 1792])
    assert space.grid() == [1984, 1792]
    assert (space.default, space.min, space.max) == (1984, 1792, 1984)
    names = Categorical(data=['b', 1, 'a'])  # unorderable: first/last
    assert (names.min, names.max) == ('b', 'a')
    with pytest.raises(SpaceError, match='data must not be empty'):
        Categorical(data=[])


def test_error_names_the_key_path_from_the_config():
    cfg = dict(MB_out_channels=[
        dict(type='Categorical', data=[16, 24], default=16),
        dict(type='Categorical', data=[1792, 1984], default=2048)])
    with pytest.raises(SpaceError) as info:
        build_search_space_recur(cfg, key='backbone.search_space')
    assert str(info.value) == ('backbone.search_space.MB_out_channels[1]: '
                               'default 2048 not in data [1792, 1984]')


def test_unknown_space_type_and_bad_argument():
    with pytest.raises(SpaceError, match="a.b: unknown space type 'Float'"):
        build_space(dict(type='Float', lower=0, upper=1), key='a.b')
    with pytest.raises(SpaceError, match="lr: Real .*unexpected keyword"):
        build_space(dict(type='Real', lower=0, upper=1, logg=True), key='lr')


def test_real_grid_by_step_and_count():
    assert Real(lower=0.0, upper=1.0, step=0.25).grid() == \
        [0.0, 0.25, 0.5, 0.75, 1.0]
    assert Real(lower=1.0, upper=2.0, count=3).grid() == [1.0, 1.5, 2.0]
    grid = Real(lower=0.001, upper=0.1, log=True, count=3).grid()
    assert grid == pytest.approx([0.001, 0.01, 0.1])
    with pytest.raises(SpaceError, match='needs `step` or `count`'):
        Real(lower=0, upper=1).grid()
    with pytest.raises(SpaceError, match='log scale needs lower > 0'):
        Real(lower=0, upper=1, log=True)
    with pytest.raises(SpaceError, match='lower 2 must be < upper 1'):
        Real(lower=2, upper=1)


def test_real_default_is_the_midpoint_of_its_scale():
    assert Real(lower=0.0, upper=4.0).default == 2.0
    assert Real(lower=0.001, upper=0.1, log=True).default == \
        pytest.approx(0.01)


def test_log_real_sampling_is_uniform_in_log_space():
    space = Real(lower=1e-4, upper=1.0, log=True)
    samples = [space.sample(seed) for seed in range(4000)]
    logs = [math.log10(v) for v in samples]
    assert all(1e-4 <= v <= 1.0 for v in samples)
    # uniform on [-4, 0]: mean -2, a quarter of the mass per decade
    assert sum(logs) / len(logs) == pytest.approx(-2.0, abs=0.06)
    below = sum(1 for v in logs if v < -3) / len(logs)
    assert below == pytest.approx(0.25, abs=0.03)


def test_sampling_is_reproducible_from_a_seed():
    tree = build_search_space_recur(dict(
        lr=dict(type='Real', lower=0.001, upper=0.3, log=True),
        depth=dict(type='Categorical', data=[18, 34, 50]),
        width=[dict(type='Int', lower=8, upper=65, step=8)] * 3))
    first = [sample_of(tree, seed) for seed in range(20)]
    again = [sample_of(tree, seed) for seed in range(20)]
    assert first == again
    assert len({str(s) for s in first}) > 15
    for config in first:
        assert validate_tree(tree, config) == config


def test_grid_is_the_cartesian_product_in_order():
    tree = build_search_space_recur(dict(
        lr=dict(type='Categorical', data=[0.1, 0.01]),
        fixed='x',
        size=[dict(type='Int', lower=1, upper=4)]))
    grid = grid_of(tree)
    assert grid_size(tree) == len(grid) == 6
    assert grid[0] == dict(lr=0.1, fixed='x', size=[1])
    assert grid[-1] == dict(lr=0.01, fixed='x', size=[3])
    assert len({str(g) for g in grid}) == 6


def test_nested_is_a_choice_among_subconfigurations():
    space = Nested(data=[
        dict(depth=18, lr=dict(type='Categorical', data=[0.1, 0.2])),
        dict(depth=50, lr=0.05)])
    assert space.grid() == [dict(depth=18, lr=0.1), dict(depth=18, lr=0.2),
                            dict(depth=50, lr=0.05)]
    assert len(space) == 3
    assert space.default == dict(depth=18, lr=0.1)
    assert space.validate(dict(depth=50, lr=0.05)) == dict(depth=50, lr=0.05)
    with pytest.raises(SpaceError, match='matches none of the 2 options'):
        space.validate(dict(depth=50, lr=0.1))
    seen = {str(space.sample(seed)) for seed in range(50)}
    assert len(seen) == 3
    with pytest.raises(SpaceError, match=r'n\.data\[1\]\.lr: default 3'):
        Nested(data=[dict(a=1), dict(lr=dict(type='Categorical', data=[1],
                                             default=3))], key='n')


def test_file_space_matches_a_glob(tmp_path):
    for name in ('b.py', 'a.py', 'c.txt'):
        (tmp_path / name).write_text('x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'd.py').write_text('x')
    space = File(path='*.py', root=str(tmp_path))
    assert space.grid() == ['a.py', 'b.py']
    assert space.default == 'a.py'
    deep = File(path=os.path.join(str(tmp_path), '**', '*.py'))
    assert [os.path.basename(p) for p in deep.grid()] == ['a.py', 'b.py', 'd.py']
    with pytest.raises(SpaceError, match='matched no file'):
        File(path=str(tmp_path / '*.yaml'), key='cfg')
    with pytest.raises(SpaceError, match="'z.py' is not one of the 2 files"):
        space.validate('z.py')


@pytest.mark.parametrize('cfg', [
    dict(type='Categorical', data=[3, 5, 7], default=5),
    dict(type='Int', lower=32, upper=97, step=8, default=64),
    dict(type='Real', lower=0.001, upper=0.3, log=True, default=0.01),
    dict(type='Real', lower=0.0, upper=1.0, step=0.1),
    dict(type='Nested', data=[dict(a=1), dict(a=dict(type='Categorical',
                                                     data=[2, 3]))]),
])
def test_every_space_round_trips_through_plain_config(cfg):
    space = build_space(cfg)
    again = build_space(space.to_config())
    assert again == space
    assert again.to_config() == space.to_config()
    assert again.grid() == space.grid() if not isinstance(space, Real) or \
        space.step else True


def test_tree_helpers_walk_every_leaf():
    raw = dict(a=dict(type='Int', lower=0, upper=3),
               b=[1, dict(type='Categorical', data=['x', 'y'], default='y')])
    tree = build_search_space_recur(raw)
    assert [k for k, _ in iter_spaces(tree)] == ['a', 'b[1]']
    assert default_of(tree) == dict(a=0, b=[1, 'y'])
    assert to_config(tree) == dict(
        a=dict(type='Int', lower=0, upper=3, step=1, default=0),
        b=[1, dict(type='Categorical', data=['x', 'y'], default='y')])
    with pytest.raises(SpaceError, match=r"b\[1\]: 'z' not in data"):
        validate_tree(tree, dict(a=1, b=[1, 'z']))
