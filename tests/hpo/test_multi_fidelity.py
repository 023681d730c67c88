"""Asynchronous successive halving and Hyperband: decisions checked against
hand-computed rungs, and a real search whose early stops are predictable."""
import sys
from collections import Counter

import pytest

from gml.errors import ConfigError
from gml.search.assessors import (CurveFittingAssessor, HyperbandAssessor,
                                  SuccessiveHalvingAssessor)

from .helpers import grid_config, search, task_trials


def test_rungs_lie_at_min_times_eta_powers_below_max():
    assert SuccessiveHalvingAssessor(max_resource=27).rungs == [1, 3, 9]
    assert SuccessiveHalvingAssessor(min_resource=2, max_resource=20,
                                     reduction_factor=2).rungs == [2, 4, 8, 16]
    assert SuccessiveHalvingAssessor(
        max_resource=27, min_early_stopping_rate=1).rungs == [3, 9]


def test_a_trial_goes_on_while_among_the_best_n_over_eta_at_its_rung():
    """η = 3, rung 1: the k-th arrival goes on if fewer than max(1, k // 3)
    recorded values beat it (by hand, below)."""
    asha = SuccessiveHalvingAssessor(max_resource=9)
    arrivals = [(1, 0.5, True),    # alone: the best of 1
                (2, 0.4, False),   # 2 values, top 1: 0.5 beats it
                (3, 0.6, True),    # 3 values, top 1: the best
                (4, 0.55, False),  # 4 values, top 1: 0.6 beats it
                (5, 0.7, True),    # 5 values, top 1: the best
                (6, 0.65, True),   # 6 values, top 2: only 0.7 beats it
                (7, 0.52, False)]  # 7 values, top 2: 0.7, 0.65, 0.6, 0.55
    for trial, value, go_on in arrivals:
        assert asha.assess(trial, [value]) is go_on, trial
    # rung 3 (values at index 2): trial 5 first, then trial 6 worse
    assert asha.assess(5, [0.7, 0.8, 0.9]) is True
    assert asha.assess(6, [0.65, 0.7, 0.85]) is False
    # nothing new to judge between rungs
    assert asha.assess(3, [0.6, 0.1]) is True


def test_minimize_reverses_the_order():
    asha = SuccessiveHalvingAssessor(optimize_mode='minimize', max_resource=9)
    assert asha.assess(1, [0.5]) is True
    assert asha.assess(2, [0.6]) is False  # a larger loss
    assert asha.assess(3, [0.3]) is True


def test_several_rungs_crossed_at_once_and_a_nan_is_stopped():
    asha = SuccessiveHalvingAssessor(max_resource=27)
    assert asha.assess(1, [0.5, 0.6, 0.7]) is True      # rungs 1 and 3
    assert asha.assess(2, [0.6, 0.6, 0.6]) is False     # worse at rung 3
    assert asha.assess(3, [float('nan')]) is False


def test_resume_replay_records_ended_trials_at_their_rungs():
    """trial_end (the replay of ended trials) fills the rungs the same way
    arrivals did, so decisions after a restart are the same."""
    live, replayed = (SuccessiveHalvingAssessor(max_resource=9)
                      for _ in range(2))
    histories = {1: [0.5, 0.6, 0.7], 2: [0.4], 3: [0.6, 0.7, 0.8]}
    for trial, history in histories.items():
        live.assess(trial, history)
        live.trial_end(trial, history, completed=True)
        replayed.trial_end(trial, history, completed=True)
    assert live.bracket.rungs.values == replayed.bracket.rungs.values
    assert live.assess(4, [0.55]) is replayed.assess(4, [0.55]) is False


def test_hyperband_brackets_follow_hyperbands_sizes_and_are_stable():
    """min 1, max 27, η 3: s_max 3, bracket weights 27, 12, 6, 4 (trials
    per bracket in Hyperband's table), the last bracket never stops a
    trial; a trial's bracket depends only on its id and the seed."""
    band = HyperbandAssessor(max_resource=27)
    assert band.weights == [27, 12, 6, 4]
    assert [b.rungs.resources for b in band.brackets] == [
        [1, 3, 9], [3, 9], [9], []]
    counts = Counter(band.bracket_index(t) for t in range(1, 49001))
    for index, weight in enumerate(band.weights):
        assert counts[index] / 49000 == pytest.approx(weight / 49, abs=0.01)
    again = HyperbandAssessor(max_resource=27)
    assert [again.bracket_index(t) for t in range(1, 200)] == \
        [band.bracket_index(t) for t in range(1, 200)]
    other = HyperbandAssessor(max_resource=27, seed=1)
    assert [other.bracket_index(t) for t in range(1, 200)] != \
        [band.bracket_index(t) for t in range(1, 200)]
    last = next(t for t in range(1, 1000) if band.bracket_index(t) == 3)
    assert band.assess(last, [0.0] * 27) is True


def test_hyperband_trials_compete_only_within_their_bracket():
    band = HyperbandAssessor(max_resource=9)  # brackets [1, 3], [3], []
    first = [t for t in range(1, 100) if band.bracket_index(t) == 0][:2]
    second = next(t for t in range(1, 100) if band.bracket_index(t) == 1)
    assert band.assess(first[0], [0.9]) is True
    assert band.assess(second, [0.1, 0.1, 0.1]) is True  # alone at rung 3
    assert band.assess(first[1], [0.5]) is False


def test_predicted_final_values_rank_trials_at_a_rung():
    """predict: curve_fitting ranks by the value the curve up to the rung
    predicts at max_resource (CurveFittingAssessor's model)."""
    asha = SuccessiveHalvingAssessor(max_resource=20, min_resource=6,
                                     predict='curve_fitting')
    curve = [40 + 50 * (1 - 0.8 ** k) for k in range(1, 10)]
    model = CurveFittingAssessor(start_step=1, epoch_num=20)
    expected = model.predict(curve[:6])
    assert expected is not None and expected > curve[5]
    # within the bounds: the last value, and the chord from the first
    # value through the last extended to step 20
    ceiling = curve[5] + (curve[5] - curve[0]) / 5 * 14
    assert curve[5] < expected < ceiling
    assert asha.value_at(curve, 6) == expected


def test_implausible_predictions_are_held_to_the_curves_bounds():
    """By hand, max_resource 20, values 50, 60, 70 at steps 1-3: the
    ceiling is 70 + 10 · 17 = 240 and the floor 70."""
    asha = SuccessiveHalvingAssessor(max_resource=20, predict='curve_fitting')
    assert asha.plausible([50.0, 60.0, 70.0], 3216.0) == 240.0
    assert asha.plausible([50.0, 60.0, 70.0], 12.0) == 70.0
    assert asha.plausible([50.0, 60.0, 70.0], 85.5) == 85.5
    assert asha.plausible([70.0, 60.0, 50.0], 99.0) == 50.0  # falling
    assert asha.plausible([42.0], 99.0) == 42.0


@pytest.mark.parametrize('config, message', [
    (dict(max_resource=1), 'scheduler.assessor.max_resource: expected more '
     'than min_resource (1), found 1'),
    (dict(reduction_factor=1), 'scheduler.assessor.reduction_factor: '
     'expected an integer >= 2, found 1'),
    (dict(predict='curve_fitting'), 'scheduler.assessor.predict: '
     'curve_fitting predicts the value at max_resource; give '
     'scheduler.assessor.max_resource'),
    (dict(predict='lstm'), "scheduler.assessor.predict: expected "
     "curve_fitting or nothing, found 'lstm'"),
])
def test_bad_keys_are_one_line(config, message):
    with pytest.raises(ConfigError) as err:
        SuccessiveHalvingAssessor(**config)
    assert str(err.value) == message
    with pytest.raises(ConfigError) as err:
        HyperbandAssessor()
    assert 'scheduler.assessor.max_resource: Hyperband needs' in \
        str(err.value)


def test_an_asha_search_stops_the_trials_the_rule_says(tmp_path):
    """One trial at a time, η 2, rungs 1, 2, 4, 8; the reward at every step
    is proportional to 1 - (lr - 0.1)^2, so by hand: lr 0.1 runs to the
    end; 0.2, 0.15, 0.05 and 0.3 stop at rung 1; 0.12 (second best of 4)
    passes rung 1 and stops at rung 2 behind 0.1."""
    lrs = (0.1, 0.2, 0.15, 0.12, 0.05, 0.3)
    config = grid_config(tmp_path, lrs, steps=9, delay=0.15, scheduler='''
        type: local
        parallel_size: 1
        assessor: {type: asha, max_resource: 9, reduction_factor: 2}
        ''')
    run = search('search-run', str(config), cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED'] + ['EARLY_STOPPED'] * 5
    assert trials[0].reward == pytest.approx(100.0)
    steps = int(trials[3].message.split('after ')[1].split()[0])
    assert 2 <= steps < 9  # judged at rung 2, stopped before the end


def test_promote_mode_pauses_and_promotes_when_a_trial_ranks_again():
    """η 3, rung 1: a paused trial goes on once enough worse ones arrive
    (by hand: 0.4 is paused with 2 values; with 6 values the top 2 are
    0.5 and 0.4, so 0.4 is promoted; a second call finds nothing)."""
    asha = SuccessiveHalvingAssessor(max_resource=9, mode='promote')
    assert asha.pauses
    assert asha.assess(1, [0.5]) is True
    for trial, value in ((2, 0.4), (3, 0.3), (4, 0.2), (5, 0.1)):
        assert asha.assess(trial, [value]) is False
        assert asha.pause_rung(trial) == 1
        asha.trial_end(trial, [value], completed=False, paused=True)
        assert asha.promotion() is None
    assert asha.assess(6, [0.05]) is False
    asha.pause_rung(6)
    asha.trial_end(6, [0.05], completed=False, paused=True)
    assert asha.promotion() == 2
    assert asha.promotion() is None
    assert sorted(asha.paused) == [3, 4, 5, 6]
    # a NaN is stopped for good, not paused
    assert asha.assess(7, [float('nan')]) is False
    assert asha.pause_rung(7) is None


RESUMABLE_TRIAL = '''
import os, sys, time
sys.path.insert(0, {repo!r})
from gml.search import report
args = dict(a.split('=', 1) for a in sys.argv[1:])
lr, steps, work = float(args['lr']), int(args['steps']), args['work']
os.makedirs(work, exist_ok=True)
ckpt = os.path.join(work, 'ckpt')
first = int(open(ckpt).read()) + 1 \
    if os.path.exists(ckpt) and args['resume'] == 'yes' else 1
with open({log!r}, 'a') as f:
    f.write(f"start {{os.environ['GML_SEARCH_TRIAL_ID']}} {{first}}\\n")
for step in range(first, steps + 1):
    time.sleep(float(args['delay']))
    report(step=step, acc=100 * (1 - (lr - 0.1) ** 2) * step / steps)
    with open(ckpt, 'w') as f:
        f.write(str(step))
'''


@pytest.mark.parametrize('crash', [False, True], ids=['straight', 'kill-9'])
def test_a_promoted_trial_resumes_from_its_checkpoint(tmp_path, crash):
    """On this machine (the local scheduler); see _promote_search."""
    _promote_search(tmp_path, crash, 'type: local', delay=0.2)


def test_a_promoted_trial_that_cannot_resume_starts_again(tmp_path):
    """A command without a checkpoint to go on from runs again from its
    first step: the same decisions, its steps reported again."""
    _promote_search(tmp_path, False, 'type: local', delay=0.2,
                    resume=False)


@pytest.mark.parametrize('crash', [False, True], ids=['straight', 'kill-9'])
def test_a_promoted_slurm_trial_resumes_from_its_checkpoint(slurm, tmp_path,
                                                            crash):
    """The same search as Slurm jobs (a promotion is a new job; steps
    are slower, as the controller looks at a Slurm trial once a second)."""
    _promote_search(tmp_path, crash, 'type: slurm\n          '
                    'query_interval: 1', delay=0.8)


def _promote_search(tmp_path, crash, scheduler, delay, resume=True):
    """One slot, η 2, rungs 1, 2, 4 of 8 steps; by hand (value ∝ 1 -
    (lr - 0.1)^2): lr 0.1 completes; 0.2, 0.16 pause at rung 1; 0.12
    passes rung 1, pauses at rung 2; 0.03 and 0.3 pause at rung 1; then 6
    values at rung 1 make 0.16 third of 6 (top 3): promoted, it goes on
    from its checkpoint and pauses at rung 2 behind 0.1 and 0.12. With a
    kill -9 of the controller after the fourth start, the resumed task
    ends the same."""
    import subprocess

    from ..conftest import REPO
    from .helpers import runs_log, wait_for_starts, write_config
    program = tmp_path / 'resumable.py'
    program.write_text(RESUMABLE_TRIAL.format(
        repo=REPO, log=str(tmp_path / 'runs.log')))
    lrs = [0.1, 0.2, 0.16, 0.12, 0.03, 0.3]
    config = write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {program} lr={{lr}} steps=8 work={{work_dir}} delay={delay} resume={'yes' if resume else 'no'}"
          search_args: {{lr: {{type: Categorical, data: {lrs}}}}}
        scheduler:
          {scheduler}
          parallel_size: 1
          assessor: {{type: asha, max_resource: 8, reduction_factor: 2,
                     mode: promote}}
        ''')
    if crash:
        controller = subprocess.Popen(
            [sys.executable, f'{REPO}/bin/search-run', str(config)],
            cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for_starts(tmp_path, 4)
        controller.kill()
        controller.wait()
        run = search('search-run', '--resume', 'search', cwd=tmp_path,
                     timeout=180)
    else:
        run = search('search-run', str(config), cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr
    trials = task_trials(tmp_path)
    assert [t.state for t in trials] == ['COMPLETED'] + ['PAUSED'] * 5
    assert trials[0].reward == pytest.approx(100.0)
    promoted = trials[2]
    assert promoted.attempts == 2
    assert promoted.paused_reward is not None
    assert promoted.reward > promoted.paused_reward  # it got further
    starts = [(t, first) for e, t, first in runs_log(tmp_path)
              if e == 'start']
    assert [first for t, first in starts if t == 3][0] == 1
    resumed_at = [first for t, first in starts if t == 3][-1]
    if resume:
        assert resumed_at > 1  # went on from its checkpoint
    else:
        assert resumed_at == 1 and len([t for t, _ in starts if t == 3]) == 2
    assert 'paused 5' in run.stdout


class _StepsRecorder:
    """What a searcher is told through ``observe_steps``."""
    calls = []


def _recording_grid():
    from gml.search.registry import SEARCHERS
    from gml.search.searchers import GridSearcher
    if 'steps_recording_grid' in SEARCHERS.classes:
        return

    @SEARCHERS.register('steps_recording_grid')
    class StepsRecordingGrid(GridSearcher):
        def observe_steps(self, params, steps, completed, reward):
            _StepsRecorder.calls.append((params['lr'], list(steps),
                                         completed, reward))


def test_the_searcher_is_told_each_trials_steps_and_whether_it_completed(
        tmp_path, monkeypatch):
    """The ASHA search of the test above, run in this process with a grid
    searcher that records ``observe_steps``: lr 0.1 completes (9 steps,
    told completed with its reward); the others are told the steps they
    reported before being stopped, as the store holds them."""
    from gml.search.cli.run import main
    from gml.search.store import TaskStore
    _recording_grid()
    _StepsRecorder.calls.clear()
    lrs = (0.1, 0.2, 0.15, 0.12, 0.05, 0.3)
    config = grid_config(tmp_path, lrs, steps=9, delay=0.15, scheduler='''
        type: local
        parallel_size: 1
        assessor: {type: asha, max_resource: 9, reduction_factor: 2}
        ''')
    config.write_text(config.read_text().replace(
        'type: GridSearcher', 'type: steps_recording_grid'))
    monkeypatch.chdir(tmp_path)
    assert main([str(config)]) == 0
    calls = _StepsRecorder.calls
    assert [c[0] for c in calls] == list(lrs)
    lr, steps, completed, reward = calls[0]
    assert completed and reward == pytest.approx(100.0)
    assert steps == pytest.approx([100.0 * k / 9 for k in range(1, 10)])
    assert not any(c[2] for c in calls[1:])
    store = TaskStore(str(tmp_path / 'search_tasks' / 'search' / 'task.db'),
                      readonly=True)
    try:
        for trial, (lr, steps, _, reward) in zip(store.trials(), calls):
            told = [v for _, v in store.metric_series(trial.id, 'acc')]
            assert steps == pytest.approx(told)
            assert reward == pytest.approx(trial.reward)
    finally:
        store.close()
    assert len(calls[3][1]) >= 2 and all(len(c[1]) < 9 for c in calls[1:])
