"""SubnetEvolution on tabular oracles: constraints, operators, resume."""
import itertools
import json
import random
import statistics

import pytest

from gml.algorithms.nas.evolution import (SubnetEvolution,
                                          random_subnet_search)
from gml.errors import ConfigError
from gml.space import Categorical, Int, Nested

WIDTHS = [16, 24, 32, 40]
NUM_LAYERS = 8


def make_space():
    return dict(widths=[Categorical(WIDTHS) for _ in range(NUM_LAYERS)])


def make_table(seed=0):
    """A fixed score for each of the 4**8 subnets: per-layer gains, a
    neighbour interaction and noise, so the optimum is not the widest net."""
    rng = random.Random(seed)
    gain = [[rng.gauss(0, 1) + 0.3 * j for j in range(4)]
            for _ in range(NUM_LAYERS)]
    pair = [[[rng.gauss(0, 0.7) for _ in range(4)] for _ in range(4)]
            for _ in range(NUM_LAYERS - 1)]
    table = {}
    for idx in itertools.product(range(4), repeat=NUM_LAYERS):
        value = sum(gain[i][j] for i, j in enumerate(idx))
        value += sum(pair[i][idx[i]][idx[i + 1]]
                     for i in range(NUM_LAYERS - 1))
        table[idx] = value + rng.gauss(0, 0.1)
    return table


TABLE = make_table()


def key_of(config):
    return tuple(WIDTHS.index(w) for w in config['widths'])


class Oracle:
    """Tabular score with a call log; cost = sum of widths."""

    def __init__(self):
        self.calls = []

    def score(self, config):
        self.calls.append(config)
        return TABLE[key_of(config)]

    @staticmethod
    def cost(config):
        return float(sum(config['widths']))


RANGE = (180.0, 230.0)   # the space spans [128, 320]
SMALL = dict(candidate_pool_size=20, top_k=5, num_mutation=10,
             num_crossover=10, mutate_prob=0.2)


def feasible_optimum(lo, hi):
    return max(v for k, v in TABLE.items()
               if lo <= sum(WIDTHS[j] for j in k) <= hi)


def test_every_candidate_satisfies_the_constraint():
    oracle = Oracle()
    seen = []

    def check(search):
        seen.extend(search.decode(v) for v in search.candidates + search.top)

    search = SubnetEvolution(make_space(), oracle.score, oracle.cost,
                             constraints=RANGE, max_generations=8, seed=3,
                             **SMALL)
    search.run(on_generation=check)
    assert len(oracle.calls) > 60
    for config in oracle.calls + seen:
        assert RANGE[0] <= oracle.cost(config) <= RANGE[1]
    keys = [json.dumps(c, sort_keys=True) for c in oracle.calls]
    assert len(keys) == len(set(keys))   # each subnet scored once


def test_mutation_changes_about_mutate_prob_of_the_genes():
    space = dict(genes=[Categorical(list(range(5))) for _ in range(20)])
    search = SubnetEvolution(space, lambda c: 0.0, mutate_prob=0.2, seed=0)
    parent = dict(genes=[i % 5 for i in range(20)])
    changed = [sum(a != b for a, b in zip(parent['genes'],
                                          search.mutate(parent)['genes']))
               for _ in range(3000)]
    # Binomial(20, 0.2): mean 4, sd of the mean 1.79 / sqrt(3000) = 0.033
    assert abs(statistics.mean(changed) - 4.0) < 0.15
    assert abs(statistics.pvariance(changed) - 3.2) < 0.4
    still = SubnetEvolution(space, lambda c: 0.0, mutate_prob=0.0)
    assert still.mutate(parent) == parent
    every = SubnetEvolution(space, lambda c: 0.0, mutate_prob=1.0)
    assert all(a != b for a, b in zip(parent['genes'],
                                      every.mutate(parent)['genes']))


def test_crossover_genes_come_from_a_parent():
    space = dict(genes=[Categorical(list(range(5))) for _ in range(20)],
                 depth=Int(1, 5))
    search = SubnetEvolution(space, lambda c: 0.0, seed=1)
    a = dict(genes=[0] * 20, depth=1)
    b = dict(genes=[1] * 20, depth=4)
    from_a = 0
    for _ in range(500):
        child = search.crossover(a, b)
        assert child['depth'] in (1, 4)
        assert set(child['genes']) <= {0, 1}
        from_a += child['genes'].count(0)
    assert abs(from_a / (500 * 20) - 0.5) < 0.03


def test_nested_space_children_are_valid():
    from gml.space import validate_tree
    space = dict(block=Nested([dict(kind='conv', k=Categorical([3, 5, 7])),
                               dict(kind='skip')]),
                 width=Categorical([8, 16]))
    search = SubnetEvolution(space, lambda c: float(c['width']),
                             mutate_prob=0.5, seed=2)
    a = dict(block=dict(kind='conv', k=5), width=8)
    b = dict(block=dict(kind='skip'), width=16)
    for _ in range(200):
        validate_tree(space, search.mutate(a))
        validate_tree(space, search.crossover(a, b))


def test_top_k_scores_never_decrease():
    oracle = Oracle()
    worst = []
    search = SubnetEvolution(make_space(), oracle.score, oracle.cost,
                             constraints=RANGE, max_generations=10, seed=5,
                             **SMALL)
    search.run(on_generation=lambda s: worst.append(
        min(s.score_of(v) for v in s.top)))
    assert len(search.history) == 10
    assert all(b >= a for a, b in zip(search.history, search.history[1:]))
    assert all(b >= a for a, b in zip(worst, worst[1:]))
    assert search.best['score'] == max(s for _, s in search.archive)


def test_resume_matches_an_uninterrupted_run():
    kwargs = dict(constraints=RANGE, max_generations=9, seed=11, **SMALL)
    oracle = Oracle()
    full = SubnetEvolution(make_space(), oracle.score, oracle.cost,
                           **kwargs)
    saved = []
    result = full.run(on_generation=lambda s: saved.append(
        json.dumps(s.state_dict())))
    assert len(saved) == 9
    for cut in (1, 4, 7):
        again = Oracle()
        resumed = SubnetEvolution(make_space(), again.score, again.cost,
                                  **kwargs)
        resumed.load_state_dict(json.loads(saved[cut - 1]))
        assert resumed.run() == result
        assert resumed.history == full.history
        assert resumed.archive == full.archive
        assert resumed.top == full.top
        assert json.dumps(resumed.state_dict()) == saved[-1]
        # only subnets the uninterrupted run scored after the cut
        assert again.calls == oracle.calls[len(oracle.calls)
                                           - len(again.calls):]
        assert len(again.calls) < len(oracle.calls)


def test_infeasible_range_raises_a_clear_error():
    oracle = Oracle()
    search = SubnetEvolution(make_space(), oracle.score, oracle.cost,
                             constraints=(400, 500), candidate_pool_size=16,
                             max_retries_factor=5)
    with pytest.raises(ConfigError) as info:
        search.run()
    message = str(info.value)
    assert 'search.constraints: no subnet satisfies the FLOPs range ' \
        '[400, 500] after 80 tries; the space spans [128, 320]' in message
    assert oracle.calls == []


def test_narrow_range_does_not_hang():
    calls = []
    space = dict(widths=[Categorical(WIDTHS) for _ in range(4)])

    def score(config):
        calls.append(config)
        return -float(sum(config['widths']))

    # 5 of the 256 subnets cost <= 72: the all-16 one and four with one 24
    search = SubnetEvolution(space, score, lambda c: float(sum(c['widths'])),
                             constraints=(0, 72), candidate_pool_size=8,
                             top_k=2, num_mutation=4, num_crossover=4,
                             max_generations=5, max_retries_factor=50)
    assert search.run() == dict(widths=[16] * 4)
    assert len(calls) == 5 and search.generation == 5


def test_pareto_keeps_the_best_of_every_bucket():
    oracle = Oracle()
    search = SubnetEvolution(make_space(), oracle.score, oracle.cost,
                             pareto=True, pareto_step=25.0,
                             constraints=(150, 300), max_generations=4,
                             seed=0, **SMALL)
    front = search.run()
    costs = [oracle.cost(c) for c in front]
    assert costs == sorted(costs)
    buckets = [int(c // 25) for c in costs]
    assert len(buckets) == len(set(buckets)) >= 5
    for config in front:   # best of its bucket among everything scored
        b = int(oracle.cost(config) // 25)
        assert TABLE[key_of(config)] == max(
            s for v, s in search.archive
            if int(search.cost(v) // 25) == b)
    top_buckets = {search._bucket(v) for v in search.top}
    assert len(top_buckets) == min(search.top_k, len(set(buckets)))


def test_beats_random_search_at_equal_evaluations():
    budget = 200
    optimum = feasible_optimum(*RANGE)
    evo, rand = [], []
    for seed in range(5):
        oracle = Oracle()
        search = SubnetEvolution(make_space(), oracle.score, oracle.cost,
                                 constraints=RANGE, max_generations=100,
                                 max_evaluations=budget, seed=seed, **SMALL)
        search.run()
        assert search.evaluations == budget == len(oracle.calls)
        evo.append(optimum - search.best['score'])
        baseline = random_subnet_search(make_space(), Oracle().score,
                                        Oracle.cost, budget,
                                        constraints=RANGE, seed=seed)
        assert baseline['evaluations'] == budget
        rand.append(optimum - baseline['score'])
    assert statistics.median(evo) < statistics.median(rand)
    assert statistics.median(evo) < 0.5 * statistics.median(rand)


@pytest.mark.parametrize('kwargs, key', [
    (dict(top_k=0), 'search.top_k'),
    (dict(candidate_pool_size=1.5), 'search.candidate_pool_size'),
    (dict(num_mutation=-1), 'search.num_mutation'),
    (dict(num_crossover='8'), 'search.num_crossover'),
    (dict(mutate_prob=1.5), 'search.mutate_prob'),
    (dict(max_generations=0), 'search.max_generations'),
    (dict(constraints=(300, 200)), 'search.constraints'),
    (dict(constraints=200), 'search.constraints'),
    (dict(pareto='yes'), 'search.pareto'),
    (dict(pareto_step=0), 'search.pareto_step'),
    (dict(seed=True), 'search.seed'),
    (dict(max_retries_factor=0), 'search.max_retries_factor'),
    (dict(max_evaluations=0), 'search.max_evaluations'),
])
def test_bad_arguments_name_their_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace('.', r'\.')):
        SubnetEvolution(make_space(), Oracle().score, Oracle.cost, **kwargs)


def test_cost_fn_required_for_constraints_and_bad_space():
    with pytest.raises(ConfigError, match=r'search\.cost_fn'):
        SubnetEvolution(make_space(), Oracle().score, None,
                        constraints=(0, 1))
    with pytest.raises(ConfigError, match=r'search\.space'):
        SubnetEvolution(dict(a=1), Oracle().score, Oracle.cost)
    search = SubnetEvolution(make_space(), Oracle().score, Oracle.cost)
    state = search.state_dict()
    state['num_genes'] = 3
    with pytest.raises(ConfigError, match=r'search\.resume'):
        search.load_state_dict(state)
