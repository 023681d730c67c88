"""Searchers: grid, batch, random, evolution and scikit-optimize."""
import math
import re
import statistics

import pytest

from gml.errors import ConfigError
from gml.search.registry import SEARCHERS
from gml.search.searchers import (BatchSearcher, EvolutionSearcher,
                                  GridSearcher, RandomSearcher, SkoptSearcher)
from gml.space.codec import params_key
from gml.space import (Categorical, Int, Nested, Real,
                       build_search_space_recur, grid_of, grid_size,
                       validate_tree)


def tree(**args):
    return build_search_space_recur(args, 'task.search_args')


def grid_space():
    return tree(
        lr=dict(type='Real', lower=1e-3, upper=1e-1, log=True, count=3),
        depth=dict(type='Int', lower=18, upper=51, step=16),
        opt=dict(type='Nested', data=[
            dict(name='sgd', momentum=dict(type='Categorical',
                                           data=[0.0, 0.9])),
            dict(name='adam')]),
        epochs=5)


def mixed_space():
    return tree(
        lr=dict(type='Real', lower=1e-4, upper=1e-1, log=True),
        wd=dict(type='Real', lower=0.0, upper=0.1),
        bs=dict(type='Int', lower=16, upper=129, step=16),
        act=dict(type='Categorical', data=['relu', None, 1.5, [1, 2]]),
        model=dict(type='Nested', data=[
            dict(depth=18),
            dict(depth=50, width=dict(type='Int', lower=1, upper=5)),
            dict(depth=101, drop=dict(type='Real', lower=0.0, upper=0.5))]),
        epochs=3)


def drain(searcher, limit=10000):
    out = []
    for _ in range(limit):
        params = searcher.suggest()
        if params is None:
            break
        out.append(params)
    return out


def keys(configs):
    return [params_key(c) for c in configs]


# -- grid --------------------------------------------------------------------
def test_grid_order_and_count_equal_grid_of():
    space = grid_space()
    searcher = SEARCHERS.build(dict(type='GridSearcher'), 'searcher',
                               space=space)
    got = drain(searcher)
    assert got == grid_of(space)
    assert len(got) == grid_size(space) == 3 * 3 * 3
    assert searcher.suggest() is None


def test_grid_is_the_default_name_and_alias():
    assert SEARCHERS.get('grid', 'searcher') is GridSearcher


def test_grid_resume_skips_observed_and_pending():
    space = grid_space()
    full = grid_of(space)
    first = GridSearcher(space)
    handed = [first.suggest() for _ in range(6)]
    assert handed == full[:6]
    # trials 0, 2, 3, 5 ended (one failed), 1 and 4 still run
    resumed = GridSearcher(space)
    for i in (0, 2, 3):
        resumed.observe(full[i], 0.5 if i != 2 else None)
    resumed.mark_pending(full[1])
    resumed.mark_pending(full[4])
    resumed.observe(full[5], 0.1)
    rest = drain(resumed)
    assert rest == full[6:]
    assert not set(keys(rest)) & set(keys(full[:6]))


def test_grid_resume_with_a_later_point_replayed():
    space = grid_space()
    full = grid_of(space)
    resumed = GridSearcher(space)
    resumed.observe(full[10], 1.0)
    resumed.mark_pending(full[0])
    rest = drain(resumed)
    assert rest == full[1:10] + full[11:]


def test_grid_parallel_suggestions_are_distinct():
    searcher = GridSearcher(grid_space())
    batch = [searcher.suggest() for _ in range(5)]
    assert len(set(keys(batch))) == 5


def test_grid_needs_step_or_count_on_real():
    with pytest.raises(ConfigError) as info:
        GridSearcher(tree(lr=dict(type='Real', lower=0.0, upper=1.0), n=3))
    assert str(info.value) == (
        'task.search_args.lr: GridSearcher needs a finite grid: a Real space '
        'needs `step` or `count` to be enumerated on a grid')
    with pytest.raises(ConfigError, match=r'^task\.search_args\.x: '
                       r'GridSearcher needs a finite grid: Real: a Real '
                       r'space needs `step` or `count`'):
        GridSearcher({'x': Real(0.0, 1.0)})  # a space built without a key
    with pytest.raises(ConfigError, match=r'task\.search_args\.m: .*'
                                          r'data\[1\]\.lr'):
        GridSearcher(tree(m=dict(type='Nested', data=[
            dict(a=1), dict(lr=dict(type='Real', lower=0.0, upper=1.0))])))


# -- batch -------------------------------------------------------------------
def batch_space():
    return tree(
        cfg=dict(type='Nested', data=[dict(lr=0.1, bs=32),
                                      dict(lr=0.01, bs=64),
                                      dict(lr=0.1, bs=32),
                                      dict(lr=0.001, bs=128)]),
        seed=dict(type='Nested', data=[1, 2, 3, 4]),
        epochs=10)


def test_batch_runs_each_configuration_once_zipping_nested_args():
    searcher = SEARCHERS.build(dict(type='batch'), 'searcher',
                               space=batch_space())
    got = drain(searcher)
    assert got == [dict(cfg=dict(lr=0.1, bs=32), seed=1, epochs=10),
                   dict(cfg=dict(lr=0.01, bs=64), seed=2, epochs=10),
                   dict(cfg=dict(lr=0.1, bs=32), seed=3, epochs=10),
                   dict(cfg=dict(lr=0.001, bs=128), seed=4, epochs=10)]
    assert searcher.suggest() is None


def test_batch_repeated_entries_run_as_often_as_listed():
    space = tree(cfg=dict(type='Nested', data=[dict(a=1), dict(a=2),
                                               dict(a=1)]))
    assert drain(BatchSearcher(space)) == [dict(cfg=dict(a=1)),
                                           dict(cfg=dict(a=2)),
                                           dict(cfg=dict(a=1))]
    resumed = BatchSearcher(space)
    resumed.observe(dict(cfg=dict(a=1)), 1.0)
    assert drain(resumed) == [dict(cfg=dict(a=2)), dict(cfg=dict(a=1))]


def test_batch_resume_skips_what_ran():
    space = batch_space()
    full = drain(BatchSearcher(space))
    resumed = BatchSearcher(space)
    resumed.observe(full[1], 0.3)
    resumed.mark_pending(full[0])
    assert drain(resumed) == [full[2], full[3]]


@pytest.mark.parametrize('value,found', [
    (dict(type='Real', lower=0.0, upper=1.0), 'Real'),
    (dict(type='Categorical', data=[1, 2]), 'Categorical'),
    (dict(type='Int', lower=0, upper=3), 'Int'),
])
def test_batch_rejects_spaces_that_are_not_nested(value, found):
    with pytest.raises(ConfigError) as info:
        BatchSearcher(tree(cfg=dict(type='Nested', data=[1, 2]), lr=value))
    assert str(info.value) == (
        f'task.search_args.lr: BatchSearcher needs Nested spaces of plain '
        f'values, found {found}')


def test_batch_rejects_spaces_inside_nested_and_unequal_lengths():
    with pytest.raises(ConfigError, match=r'^task\.search_args\.cfg: '
                       r'BatchSearcher needs Nested spaces of plain values, '
                       r'found Real inside option 1'):
        BatchSearcher(tree(cfg=dict(type='Nested', data=[
            dict(lr=0.1), dict(lr=dict(type='Real', lower=0.0, upper=1.0))])))
    with pytest.raises(ConfigError, match=r'^task\.search_args\.b: .*same '
                       r'number of options; found 2 here and 3'):
        BatchSearcher(tree(a=dict(type='Nested', data=[1, 2, 3]),
                           b=dict(type='Nested', data=[1, 2])))


# -- random ------------------------------------------------------------------
def test_random_is_reproducible_and_seeds_differ():
    space = mixed_space()
    a = drain(RandomSearcher(space, seed=7), 30)
    b = drain(SEARCHERS.build(dict(type='random', seed=7), 'searcher',
                              space=space), 30)
    c = drain(RandomSearcher(space, seed=8), 30)
    assert a == b
    assert sum(x != y for x, y in zip(a, c)) >= 28
    for params in a + c:
        assert validate_tree(space, params) == params
    lrs = [p['lr'] for p in a + c]
    # log-uniform: about half of the samples below the geometric midpoint
    below = sum(lr < math.sqrt(1e-4 * 1e-1) for lr in lrs)
    assert 15 <= below <= 45


def test_random_replay_continues_the_same_sequence():
    space = mixed_space()
    run = RandomSearcher(space, seed=3)
    handed = [run.suggest() for _ in range(8)]
    # trials 0-5 ended (2 failed), 6 and 7 still run
    for i in range(6):
        run.observe(handed[i], None if i in (2, 4) else float(i))
    after = [run.suggest() for _ in range(6)]
    resumed = RandomSearcher(space, seed=3)
    for i in range(8):
        if i < 6:
            resumed.observe(handed[i], None if i in (2, 4) else float(i))
        else:
            resumed.mark_pending(handed[i])
    assert [resumed.suggest() for _ in range(6)] == after


def test_random_tiny_space_repeats_instead_of_stopping():
    searcher = RandomSearcher({'a': Categorical([1, 2])}, seed=0,
                              max_unique_tries=5)
    got = [searcher.suggest()['a'] for _ in range(6)]
    assert sorted(set(got)) == [1, 2] and len(got) == 6
    with pytest.raises(ConfigError, match=r'^searcher\.max_unique_tries: '
                       r'expected an integer >= 1, found 0$'):
        RandomSearcher({'a': Categorical([1, 2])}, max_unique_tries=0)


# -- evolution ---------------------------------------------------------------
def toy_objective(params):
    """Larger is better; best at lr=1e-2, wd=0.03, bs=64, act='relu'."""
    score = -(math.log10(params['lr']) + 2) ** 2
    score -= 100 * (params['wd'] - 0.03) ** 2
    score -= ((params['bs'] - 64) / 64) ** 2
    score -= 0.0 if params['act'] == 'relu' else 0.5
    model = params['model']
    score -= {18: 0.3, 50: 0.1 * (5 - model.get('width', 0)),
              101: model.get('drop', 0)}[model['depth']]
    return score


def run(searcher, objective, budget, fail_every=0):
    best, history = -math.inf, []
    for i in range(budget):
        params = searcher.suggest()
        failed = fail_every and i % fail_every == fail_every - 1
        reward = None if failed else objective(params)
        searcher.observe(params, reward)
        if reward is not None:
            best = max(best, reward)
        history.append(params)
    return best, history


def test_evolution_candidates_are_valid():
    space = mixed_space()
    searcher = EvolutionSearcher(space, seed=0, population_size=8)
    _, history = run(searcher, toy_objective, 80, fail_every=5)
    for params in history:
        assert validate_tree(space, params) == params
    assert len(set(keys(history))) >= 75  # re-proposals are avoided


def test_evolution_mutation_changes_about_mutate_prob_genes():
    import random
    space = {f'g{i}': Categorical(list(range(5))) for i in range(20)}
    space['x'] = Real(0.0, 1.0)
    searcher = EvolutionSearcher(space, seed=0, mutate_prob=0.2)
    rng = random.Random(1)
    changed = []
    for _ in range(2000):
        parent = searcher.codec.random(rng)
        child = searcher.mutate(parent, rng)
        changed.append(sum(a != b for a, b in zip(parent, child)))
    assert min(changed) >= 1
    expected = 0.2 * 21 + 0.8 ** 21  # at least one gene always changes
    assert abs(statistics.mean(changed) - expected) < 0.25


def test_evolution_crossover_genes_come_from_parents():
    import random
    space = mixed_space()
    searcher = EvolutionSearcher(space, seed=0)
    codec = searcher.codec
    rng = random.Random(2)
    from_a = from_b = 0
    for _ in range(500):
        a, b = codec.random(rng), codec.random(rng)
        child = searcher.crossover(a, b, rng)
        params = codec.decode(child)
        assert validate_tree(space, params) == params
        for gene, x, y, z, on in zip(codec.genes, a, b, child,
                                     codec.active(child)):
            if on:
                assert z in (x, y), gene.path
                from_a += z == x
                from_b += z == y
    assert abs(from_a - from_b) < 0.1 * (from_a + from_b)


def test_evolution_population_is_the_youngest_successes():
    """Aging: the population is the last population_size successful trials
    in hand-out order; failed trials never join."""
    space = mixed_space()
    searcher = EvolutionSearcher(space, seed=1, population_size=10,
                                 tournament_size=4)
    handed = []
    for i in range(120):
        params = searcher.suggest()
        # every 4th trial fails: it must never enter the population
        reward = None if i % 4 == 3 else toy_objective(params)
        searcher.observe(params, reward)
        if reward is not None:
            handed.append((params, reward))
        got = [u for _, u in searcher.population()]
        assert got == [r for _, r in handed[-10:]]
    best = max(r for _, r in handed)
    assert best > -0.5


def test_evolution_population_adapts_to_the_budget():
    space = mixed_space()
    sizes = {budget: (s.population_size, s.tournament_size) for budget, s in
             ((b, EvolutionSearcher(space, seed=0, budget=b))
              for b in (None, 10, 50, 100, 200, 1000))}
    assert sizes == {None: (16, 8), 10: (8, 4), 50: (10, 5), 100: (20, 10),
                     200: (40, 20), 1000: (64, 32)}
    explicit = EvolutionSearcher(space, seed=0, budget=50,
                                 population_size=6, tournament_size=2)
    assert (explicit.population_size, explicit.tournament_size) == (6, 2)
    older = EvolutionSearcher(space, seed=0, population_size=6, top_k=3)
    assert older.tournament_size == 3


def test_the_controller_gives_max_tries_to_the_evolution_only():
    from gml.search.config import parse_config
    from gml.search.controller import build_components

    def searcher_of(searcher_cfg, stop):
        raw = dict(task=dict(template='echo {lr}',
                             search_args=dict(lr=dict(
                                 type='Real', lower=0.01, upper=0.1))),
                   searcher=searcher_cfg,
                   scheduler=dict(type='local', stop_criterion=stop))
        return build_components(parse_config(raw), 'task')[0]

    assert searcher_of(dict(type='evolution'),
                       dict(max_tries=50)).population_size == 10
    assert searcher_of(dict(type='evolution'),
                       dict(max_tries=200)).population_size == 40
    assert searcher_of(dict(type='evolution'), {}).population_size == 16
    assert searcher_of(dict(type='evolution', population_size=6),
                       dict(max_tries=50)).population_size == 6
    assert searcher_of(dict(type='evolution', budget=100),
                       dict(max_tries=50)).population_size == 20
    # searchers without a budget argument are built as before
    assert isinstance(searcher_of(dict(type='random', seed=0),
                                  dict(max_tries=50)), RandomSearcher)


def test_evolution_is_reproducible_and_resumes():
    space = mixed_space()
    first = run(EvolutionSearcher(space, seed=5, budget=40),
                toy_objective, 40)[1]
    again = run(EvolutionSearcher(space, seed=5, budget=40),
                toy_objective, 40)[1]
    other = run(EvolutionSearcher(space, seed=6, budget=40),
                toy_objective, 40)[1]
    assert first == again and first != other
    for cut in (3, 8, 9, 17, 25, 39):
        resumed = EvolutionSearcher(space, seed=5, budget=40)
        for params in first[:cut]:
            resumed.observe(params, toy_objective(params))
        rest = [resumed.suggest()]
        for params in first[cut:-1]:
            resumed.observe(rest[-1], toy_objective(rest[-1]))
            rest.append(resumed.suggest())
        assert rest == first[cut:], cut


def test_evolution_resume_with_running_trials_matches():
    """Two trials outstanding at a time; a resume replays the finished
    trials, then the running one, in trial order."""
    space = mixed_space()

    def parallel(searcher, budget, history=None):
        history = list(history or [])
        told = len(history) - 1 if history else 0
        while len(history) < budget:
            history.append(searcher.suggest())
            if len(history) - told >= 2:  # the oldest of two ends
                searcher.observe(history[told], toy_objective(history[told]))
                told += 1
        return history

    first = parallel(EvolutionSearcher(space, seed=3, budget=30), 30)
    for cut in (5, 12, 21):
        resumed = EvolutionSearcher(space, seed=3, budget=30)
        for params in first[:cut - 1]:
            resumed.observe(params, toy_objective(params))
        resumed.mark_pending(first[cut - 1])
        assert parallel(resumed, 30, first[:cut]) == first, cut


def sphere2(params):
    """A seeded 2-D quadratic, smaller is better; minimum 0 at (0.3, -0.2)."""
    return (params['x'] - 0.3) ** 2 + (params['y'] + 0.2) ** 2


def test_evolution_beats_random_on_a_quadratic_at_40_evaluations():
    space = {'x': Real(-1.0, 1.0), 'y': Real(-1.0, 1.0)}
    evo, rnd = [], []
    for seed in range(5):
        for searcher, out in (
                (EvolutionSearcher(space, 'minimize', seed=seed, budget=40),
                 evo),
                (RandomSearcher(space, 'minimize', seed=seed), rnd)):
            best = math.inf
            for _ in range(40):
                params = searcher.suggest()
                value = sphere2(params)
                searcher.observe(params, value)
                best = min(best, value)
            out.append(best)
    assert statistics.median(evo) < statistics.median(rnd) / 3


def test_evolution_beats_random_at_equal_budget():
    space = mixed_space()
    evo, rnd = [], []
    for seed in range(5):
        evo.append(run(EvolutionSearcher(space, seed=seed, budget=150),
                       toy_objective, 150)[0])
        rnd.append(run(RandomSearcher(space, seed=seed), toy_objective,
                       150)[0])
    assert statistics.median(evo) > statistics.median(rnd)


@pytest.mark.parametrize('args,message', [
    (dict(population_size=1),
     'searcher.population_size: expected an integer >= 2, found 1'),
    (dict(mutate_prob=1.5),
     'searcher.mutate_prob: expected a number from 0 to 1, found 1.5'),
    (dict(crossover_prob=-0.1),
     'searcher.crossover_prob: expected a number from 0 to 1, found -0.1'),
    (dict(population_size=8, top_k=9),
     'searcher.top_k: expected at most population_size (8), found 9'),
    (dict(population_size=8, tournament_size=9),
     'searcher.tournament_size: expected at most population_size (8), '
     'found 9'),
    (dict(tournament_size=0),
     'searcher.tournament_size: expected an integer >= 1, found 0'),
    (dict(tournament_size=2, top_k=2),
     'searcher: tournament_size and top_k are the same key (top_k is its '
     'older name); give one'),
    (dict(budget=0), 'searcher.budget: expected an integer >= 1, found 0'),
    (dict(local_width=0),
     'searcher.local_width: expected a number in (0, 1], found 0'),
    (dict(local_share=2),
     'searcher.local_share: expected a number from 0 to 1, found 2'),
])
def test_evolution_rejects_bad_keys(args, message):
    with pytest.raises(ConfigError, match=f'^{re.escape(message)}$'):
        SEARCHERS.build(dict(type='evolution', **args), 'searcher',
                        space=mixed_space())


def test_evolution_population_size_message():
    with pytest.raises(ConfigError) as info:
        EvolutionSearcher(mixed_space(), population_size=1)
    assert str(info.value) == ('searcher.population_size: expected an '
                               'integer >= 2, found 1')


# -- scikit-optimize ----------------------------------------------------------
def quadratic(params):
    return (params['x'] - 0.3) ** 2 + (params['y'] + 0.2) ** 2


def minimize(searcher, budget):
    best = math.inf
    for _ in range(budget):
        params = searcher.suggest()
        value = quadratic(params)
        searcher.observe(params, value)
        best = min(best, value)
    return best


def test_skopt_beats_random_on_a_quadratic():
    space = {'x': Real(-2.0, 2.0), 'y': Real(-2.0, 2.0)}
    sk, rnd = [], []
    for seed in range(3):
        sk.append(minimize(SkoptSearcher(space, optimize_mode='min',
                                         seed=seed, acq_func='EI',
                                         n_initial_points=5), 12))
        rnd.append(minimize(RandomSearcher(space, optimize_mode='min',
                                           seed=seed), 12))
    assert statistics.median(sk) < statistics.median(rnd)
    assert statistics.median(sk) < 0.02
    # parallel trials: three suggestions without results, all new points
    searcher = SkoptSearcher(space, seed=0, acq_func='EI',
                             n_initial_points=5)
    done = []
    for _ in range(6):
        done.append(searcher.suggest())
        searcher.observe(done[-1], -quadratic(done[-1]))
    running = [searcher.suggest() for _ in range(3)]
    assert len(set(keys(done + running))) == 9
    spread = min(math.dist((a['x'], a['y']), (b['x'], b['y']))
                 for i, a in enumerate(running) for b in running[i + 1:])
    assert spread > 1e-3


def test_skopt_parallel_suggestions_are_distinct_and_valid():
    space = {'x': Real(-2.0, 2.0), 'y': Real(-2.0, 2.0),
             'n': Int(0, 20, step=5), 'c': Categorical([None, 1.5, 'a']),
             'm': Nested([dict(k=1), dict(k=2, z=Real(0.0, 1.0))]),
             'fixed': 'yes'}
    searcher = SEARCHERS.build(
        dict(type='SkoptSearcher', seed=0, n_initial_points=3, acq_func='EI',
             base_estimator='RF'),
        'searcher', space=space)
    done = []
    for i in range(4):
        params = searcher.suggest()
        searcher.observe(params, None if i == 1 else -quadratic(params))
        done.append(params)
    pending = [searcher.suggest() for _ in range(3)]
    everything = done + pending
    assert len(set(keys(everything))) == len(everything)
    for params in everything:
        assert validate_tree(space, params) == params
        assert params['n'] in (0, 5, 10, 15)
    # a resumed searcher accounts for the running trials too
    resumed = SkoptSearcher(space, seed=0, n_initial_points=3,
                            acq_func='EI', base_estimator='RF')
    for i, params in enumerate(done):
        resumed.observe(params, None if i == 1 else -quadratic(params))
    for params in pending:
        resumed.mark_pending(params)
    nxt = resumed.suggest()
    assert params_key(nxt) not in set(keys(everything))


@pytest.mark.parametrize('name', ['GBRT', 'dummy'])
def test_skopt_refuses_broken_estimators(name):
    with pytest.raises(ConfigError, match=(
            rf"^searcher\.base_estimator: '{name}' is broken in "
            r'scikit-optimize 0\.10\.2 with scikit-learn >= 1\.6 .*; use one '
            r'of GP, RF, ET$')):
        SEARCHERS.build(dict(type='skopt', base_estimator=name), 'searcher',
                        space={'x': Real(0.0, 1.0)})


@pytest.mark.parametrize('args,message', [
    (dict(base_estimator='SVM'),
     "searcher.base_estimator: expected one of 'GP', 'RF', 'ET', found 'SVM'"),
    (dict(acq_func='MES'), "searcher.acq_func: expected one of 'gp_hedge', "
     "'EI', 'PI', 'LCB', found 'MES'"),
    (dict(liar_strategy='cl_median'), "searcher.liar_strategy: expected one "
     "of 'cl_min', 'cl_mean', 'cl_max', found 'cl_median'"),
    (dict(n_initial_points=0),
     'searcher.n_initial_points: expected an integer >= 1, found 0'),
    (dict(seed='abc'), "searcher.seed: expected an integer >= 0, found 'abc'"),
])
def test_skopt_rejects_bad_keys(args, message):
    with pytest.raises(ConfigError, match=f'^{re.escape(message)}$'):
        SEARCHERS.build(dict(type='skopt', **args), 'searcher',
                        space={'x': Real(0.0, 1.0)})


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match='^searcher: RandomSearcher does '
                                          'not take population_size; it '
                                          'takes max_unique_tries, '
                                          'optimize_mode, seed$'):
        SEARCHERS.build(dict(type='random', population_size=3), 'searcher',
                        space={'x': Real(0.0, 1.0)})
