"""The simulated-clock replay of benchmarks/hpo_multifidelity.py on tiny
synthetic tables whose outcomes can be worked out by hand."""
import importlib.util
import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _load():
    path = os.path.join(REPO, 'benchmarks', 'hpo_multifidelity.py')
    spec = importlib.util.spec_from_file_location('hpo_multifidelity', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mf = _load()


def write_table(path, configs, curves, seconds):
    """A table file in the format of benchmarks/make_digits_tabular.py."""
    runs = [dict(index=i, config=c, val_top1=v, epoch_s=[s] * len(v),
                 seconds_per_epoch=s, train_loss=[1.0] * len(v),
                 diverged_epoch=None)
            for i, (c, v, s) in enumerate(zip(configs, curves, seconds))]
    with open(path, 'w') as f:
        json.dump(dict(settings=dict(epochs=len(curves[0])), runs=runs), f)
    return mf.Table(str(path))


def flat_table(path, count=9, epochs=9, curves=None, seconds=None):
    """``count`` configurations; by default configuration i reports
    accuracy i + 1 at every epoch (so the last one dominates), 1 s an
    epoch. Widths and batch sizes cycle, lr and weight decay spread over
    the real table's ranges."""
    configs = [dict(lr=round(10 ** (-3 + 3 * i / (count - 1)), 6),
                    base_channels=(4, 8, 16, 32)[i % 4],
                    weight_decay=round(10 ** (-6 + 4 * (i * 5 % count)
                                              / (count - 1)), 9),
                    batch_size=(16, 32, 64)[i % 3]) for i in range(count)]
    curves = curves or [[float(i + 1)] * epochs for i in range(count)]
    return write_table(path, configs, curves, seconds or [1.0] * count)


class Scripted:
    """A searcher that hands out table configurations in a fixed order and
    records what it is told: (configuration index, reward)."""

    def __init__(self, table, order):
        self.table, self.order, self.told, self.handed = table, order, [], 0
        self.steps = []  # (configuration index, steps, completed)

    def suggest(self):
        self.handed += 1
        return dict(self.table.configs[self.order[self.handed - 1]])

    def observe(self, params, reward):
        self.told.append((self.table.nearest(params), reward))

    def observe_steps(self, params, steps, completed, reward):
        self.steps.append((self.table.nearest(params), list(steps),
                           completed))


def test_nearest_snaps_to_the_configuration(tmp_path):
    table = flat_table(tmp_path / 't.json')
    for index, config in enumerate(table.configs):
        assert table.nearest(config) == index
        near = dict(config, lr=config['lr'] * 1.01)
        assert table.nearest(near) == index
    first = mf.Table(str(tmp_path / 't.json'), first=3)
    assert first.configs == table.configs[:3] and first.best_final == 3.0
    space = table.space()
    assert space['lr'].log and space['weight_decay'].log
    assert list(space['base_channels'].data) == [4, 8, 16, 32]
    assert list(space['batch_size'].data) == [16, 32, 64]


def test_asha_trains_what_the_rung_rule_gives(tmp_path):
    """η = 3, rungs at epochs 1 and 3 (max 9). Best first, one worker:
    configuration 8 runs to the end (9 epochs); each later one is worse than
    the max(1, n // 3) best at rung 1 and stops after 1 epoch: 9 + 8 = 17
    epochs, 17 s. Worst first: every newcomer is the best so far, nothing
    stops: 81 epochs."""
    from gml.search.assessors import SuccessiveHalvingAssessor
    table = flat_table(tmp_path / 't.json')
    for order, epochs in ((range(8, -1, -1), 17), (range(9), 81)):
        searcher = Scripted(table, list(order) + [0] * 20)
        assessor = SuccessiveHalvingAssessor(min_resource=1, max_resource=9,
                                             reduction_factor=3)
        run = mf.simulate(table, mf.GmlDriver(searcher, assessor),
                          horizon=epochs, workers=1)
        assert run['epochs'] == epochs
        assert run['reports'][-1][0] == epochs  # one second per epoch
        assert len(searcher.told) == 9
    # Best first: the searcher learns every stopped trial's last value.
    searcher = Scripted(table, list(range(8, -1, -1)) + [0] * 20)
    run = mf.simulate(table, mf.GmlDriver(
        searcher, SuccessiveHalvingAssessor(max_resource=9)), 17, 1)
    assert searcher.told == [(i, float(i + 1)) for i in range(8, -1, -1)]
    assert [t[1:] for t in run['trials'][:9]] == \
        [[9, 'completed']] + [[1, 'stopped']] * 8
    assert run['completions'] == [(9.0, 9.0, 9, 1)]
    # The dominant configuration's first epoch already reaches the target.
    assert mf.first_reaching(run['reports'], 0.99 * table.best_final)[0] == 1


@pytest.mark.parametrize('restarts', [False, True])
def test_promote_mode_pauses_and_resumes_by_the_rung_rule(tmp_path,
                                                          restarts):
    """η = 2, rungs at epochs 1 and 2 (max 4), one worker, values 4, 3, 2,
    1 in that order, then 4 again. By hand: t0 (4) completes at 4 s; t1
    (3), t2 (2), t3 (1) each pause after 1 epoch (not the best of n // 2 at
    rung 1) at 5, 6, 7 s; with 4 values at rung 1, t1 is second of the
    top 2: promoted, it goes on to epoch 2 (8 s; with no checkpoint it
    trains epoch 1 again first: 9 s) and pauses behind t0 at rung 2; t4
    (4) ties the best and completes 4 epochs later."""
    from gml.search.assessors import SuccessiveHalvingAssessor
    table = flat_table(tmp_path / 't.json', count=4, epochs=4)
    searcher = Scripted(table, [3, 2, 1, 0, 3, 3])
    assessor = SuccessiveHalvingAssessor(max_resource=4, reduction_factor=2,
                                         mode='promote')
    redo = 1 if restarts else 0
    run = mf.simulate(table, mf.GmlDriver(searcher, assessor, restarts),
                      horizon=12 + redo, workers=1)
    assert [t[1:] for t in run['trials']] == [
        [4, 'completed'], [2, 'paused'], [1, 'paused'], [1, 'paused'],
        [4, 'completed'], [0, 'running']]  # t5 started as t4 ended
    assert run['epochs'] == 12 + redo
    assert [c[0] for c in run['completions']] == [4.0, 12.0 + redo]
    # t1's second epoch: 8 s, or 9 s after training epoch 1 again
    assert [r[0] for r in run['reports']][7] == 8.0 + redo
    # the searcher learns each trial once, its steps each time it stops
    assert searcher.told == [(3, 4.0), (2, 3.0), (1, 2.0), (0, 1.0),
                             (3, 4.0)]
    assert [s for s in searcher.steps if s[0] == 2] == [
        (2, [3.0], False), (2, [3.0, 3.0], False)]
    assert set(assessor.paused) == {1, 2, 3}


def test_median_stopping_waits_for_five_completed_trials(tmp_path):
    """Best first, one worker: 8, 7, 6, 5, 4 complete (45 epochs); then
    the median of their running averages at step 1 is 7 (the values are
    i + 1 = 5..9), and 4, 3, 2, 1 each stop after 1 epoch: 49 epochs."""
    from gml.search.assessors import MedianStopAssessor
    table = flat_table(tmp_path / 't.json')
    searcher = Scripted(table, list(range(8, -1, -1)) + [0] * 20)
    run = mf.simulate(table, mf.GmlDriver(searcher, MedianStopAssessor()),
                      horizon=49, workers=1)
    assert run['epochs'] == 49
    assert [t[1] for t in run['trials'][:9]] == [9] * 5 + [1] * 4


def test_parallel_workers_share_the_clock(tmp_path):
    """Two workers, 3 epochs; configuration 0 costs 1 s an epoch, 1 costs
    2 s. Worker A: 0 (0-3 s), 0 (3-6 s); worker B: 1 (0-6 s). At 6 s the
    next trials start; their first epochs end after the 6 s horizon."""
    table = write_table(tmp_path / 't.json',
                        [dict(lr=1e-3, base_channels=4, weight_decay=1e-6,
                              batch_size=16),
                         dict(lr=1.0, base_channels=32, weight_decay=1e-2,
                              batch_size=64)],
                        [[10.0, 20.0, 30.0], [50.0, 60.0, 70.0]], [1.0, 2.0])
    searcher = Scripted(table, [0, 1, 0, 1, 0, 1, 0])
    run = mf.simulate(table, mf.GmlDriver(searcher), horizon=6, workers=2)
    assert run['epochs'] == 9
    assert [c[:2] for c in run['completions']] == \
        [(3.0, 30.0), (6.0, 70.0), (6.0, 30.0)]
    assert [t[0] for t in run['trials']] == [0, 1, 0, 1, 0]
    assert mf.first_reaching(run['reports'], 50.0)[0] == 2.0
    assert mf.best_by(run['reports'], 1.5) == 10.0
    assert mf.median_or_none([1.0, None, None]) is None
    assert mf.median_or_none([1.0, 2.0, None]) == 2.0


@pytest.mark.parametrize('method', ['random+median', 'random+hyperband',
                                    'random+asha/r3', 'tpe+hyperband',
                                    'optuna', 'random+asha_p',
                                    'random+asha_pr', 'tpe+hyperband_p'])
def test_real_methods_run_on_a_synthetic_table(method, tmp_path):
    """Searchers built from config dicts, and Optuna, run to the horizon;
    the books balance (epochs counted = epochs of the trials) and stopped
    trials stop only where their assessor judges."""
    import random
    rng = random.Random(0)
    count, epochs = 30, 9
    curves = []
    for i in range(count):  # rising curves, different speeds
        rate = rng.uniform(0.1, 0.9)
        curves.append([(i + 1) * (1 - (1 - rate) ** (e + 1))
                       for e in range(epochs)])
    table = flat_table(tmp_path / 't.json', count, epochs, curves,
                       [rng.uniform(0.5, 2.0) for _ in range(count)])
    if method.startswith('tpe'):
        from gml.search import searchers
        if 'tpe' not in searchers.SEARCHERS.classes:
            pytest.skip('TPESearcher is not there yet')
    run = mf.simulate(table, mf.make_driver(table, method, seed=0),
                      horizon=60, workers=4)
    trained = sum(t[1] for t in run['trials'])
    if method.endswith('_pr'):  # promoted trials train their epochs again
        assert run['epochs'] > trained
    else:
        assert run['epochs'] == trained
    assert all(t[1] == epochs for t in run['trials'] if t[2] == 'completed')
    paused_at = {t[1] for t in run['trials'] if t[2] == 'paused'}
    if method.endswith(('_p', '_pr')):  # rungs at epochs 1 and 3
        assert paused_at and paused_at <= {1, 3}
    else:
        assert not paused_at
    ended = [t for t in run['trials'] if t[2] != 'running']
    assert len(ended) >= 4   # and the 4 workers are never idle:
    assert len(run['trials']) - len(ended) == 4
    stopped_at = {t[1] for t in ended if t[2] == 'stopped'}
    if method == 'random+hyperband':  # rungs at epochs 1 and 3
        assert stopped_at <= {1, 3}
    if method == 'random+asha/r3':  # one rung, at epoch 3
        assert stopped_at == {3}
    times = [r[0] for r in run['reports']]
    assert times == sorted(times) and times[-1] <= 60


def test_summary_takes_medians_over_seeds(tmp_path):
    """Three seeds: the target (0.99 × 9 = 8.91) reached at 1, 4 and never;
    the median is 4 s. Two of three never complete it: median null."""
    table = flat_table(tmp_path / 't.json')
    runs = [dict(reports=[(1.0, 9.0, 1, 1)], completions=[(9.0, 9.0, 9, 1)],
                 trials=[[8, 9, 'completed']], epochs=9),
            dict(reports=[(2.0, 5.0, 2, 2), (4.0, 9.0, 4, 3)],
                 completions=[], trials=[[4, 1, 'stopped']], epochs=4),
            dict(reports=[(3.0, 2.0, 3, 4)], completions=[],
                 trials=[[1, 1, 'stopped'], [2, 1, 'running']], epochs=3)]
    out = mf.summarise(runs, table, [0.99], {'1': 5.0})
    figures = out['targets']['0.99']
    assert figures['time'] == 4.0 and figures['epochs'] == 4
    assert figures['time_seeds'] == [1.0, 4.0, None]
    assert figures['completed_time'] is None
    assert figures['completed_reached'] == 1
    assert out['best_at'] == {'1': 9.0}
    assert out['stopped_share'] == round(2 / 3, 3)


def test_diagnostics_by_hand(tmp_path):
    """Final accuracies 1..9: only the best reaches 0.99 × 9; accuracy at
    epoch 1 ranks them exactly (ρ = 1), reversed ranks give ρ = -1."""
    assert mf.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1)
    assert mf.ranks([5, 1, 5, 2]) == [3.5, 1, 3.5, 2]
    out = mf.diagnostics(flat_table(tmp_path / 't.json'), [0.99, 0.5])
    assert out['share_reaching'] == {'0.99': round(1 / 9, 3),
                                     '0.5': round(5 / 9, 3)}
    assert out['rank_correlation_with_final'] == {'1': 1.0, '3': 1.0}


def test_own_time_to_target_and_the_first_round_chance(tmp_path):
    """Three configurations, 4 epochs: A rises 25, 50, 75, 100 at 1 s an
    epoch (100 after 4 s), B reports 99 from epoch 1 at 3 s an epoch (3 s),
    C stays at 10. Target 0.99 × 100: A after 4 s, B after 3 s, C never.
    Within 3.5 s only B: a third of the table; two blind draws contain it
    with chance 1 - (2/3)^2 = 5/9."""
    configs = [dict(lr=1e-3, base_channels=4, weight_decay=1e-6,
                    batch_size=16),
               dict(lr=1e-2, base_channels=8, weight_decay=1e-5,
                    batch_size=32),
               dict(lr=1e-1, base_channels=16, weight_decay=1e-4,
                    batch_size=64)]
    table = write_table(tmp_path / 't.json', configs,
                        [[25.0, 50.0, 75.0, 100.0], [99.0] * 4, [10.0] * 4],
                        [1.0, 3.0, 1.0])
    assert [mf.own_time_to(table, i, 0.99) for i in range(3)] == \
        [4.0, 3.0, None]
    assert mf.blind_bound(table, 0.99, 3.5, workers=2) == dict(
        seconds=3.5, share_within=round(1 / 3, 3),
        first_round_chance=round(5 / 9, 3))
    own = mf.diagnostics(table, [0.99])['own_seconds_to_target']['0.99']
    assert own == dict(reaching=2, fastest=3.0, median=3.5)
