"""Multi-fidelity searches replayed on real digits learning curves.

Usage: nice -n 10 python benchmarks/hpo_multifidelity.py [--seeds 10]
           [--configs N] [--workers 4] [--horizon SECONDS]
           [--targets 0.99,0.995,0.998]
           [--methods random,random+median,...] [--data PATH]
           [--markdown]

Reads the tabular benchmark ``benchmarks/data/digits_tabular.json`` (made by
benchmarks/make_digits_tabular.py: per configuration of lr, width, weight
decay and batch size, the validation accuracy after each of its epochs and
the seconds an epoch of it costs) and replays searches against it on a
simulated wall clock with ``--workers`` parallel workers. The simulation is
event driven: a running trial advances one epoch at a time, each epoch
costing its configuration's seconds per epoch; after every epoch the trial
reports that epoch's accuracy and the assessor judges the reward history as
gml's controller does (``assess`` whenever a new step arrives; False stops
the trial at once: EARLY_STOPPED, reward its last value, which the searcher
observes, then ``trial_end``); a trial that trains all its epochs
completes (reward its final value; its last epoch is not judged, the
trial has ended). A freed worker asks the searcher for a
new configuration at that same simulated instant. Searcher and assessor
time is not charged to the clock.

Search space: gml spaces over the table's own parameters, ``lr`` and
``weight_decay`` as log-scaled ``Real`` over the table's range,
``base_channels`` and ``batch_size`` as ``Categorical`` over the table's
values. A suggestion is trained as the table row that
``_tabular.Tabular.nearest`` picks: one with the same width and batch size,
then the least distance in log10 learning rate and weight decay. This lets
TPE (gml's and Optuna's) model how accuracy depends on lr and width, which a
``Categorical`` over the table's row numbers would hide (the rows are in
random order, so TPE would see unrelated categories). Rows are drawn with
replacement: a suggestion near an already trained configuration trains that
one again, paying its time again, as a real search in a continuous space
would train a close neighbour. An epoch costs what ``Tabular`` charges by
default: the median seconds per epoch of the table's runs with the same
width and batch size (the runs were timed on a shared machine).

The searcher is told the parameters it suggested (not the snapped ones), as
the controller tells it ``trial.params``.

Methods (gml components built from config dicts through the registries, as
the controller builds them): ``random`` (no early stopping),
``random+median`` (MedianStopAssessor, its defaults), ``random+asha``,
``random+hyperband`` (min_resource 1, max_resource = the table's epochs,
reduction_factor 3), ``random+asha_cf`` (asha with ``predict:
curve_fitting``), ``random+asha_p`` and ``random+hyperband_p`` (``mode:
promote``: a trial that is not among the best at a rung is paused, and
goes on from there when later arrivals rank below it, before any new trial
starts; as with mmengine's ``--resume``), ``random+asha_pr`` (the same,
but a promoted trial trains again from its first epoch, as one that keeps
no checkpoint does), ``tpe`` (gml's TPESearcher, its defaults, no early
stopping), ``tpe+hyperband``, ``tpe+asha``, ``tpe+asha_p`` and
``tpe+hyperband_p`` (BOHB-style: TPE inside the brackets, learning each
trial's value where it first ended or paused), and ``optuna`` (Optuna's
TPESampler, its defaults with the seed, and its HyperbandPruner with the
same min/max resource and reduction factor, driven by ask/tell with
``trial.report`` and ``trial.should_prune`` after every epoch on the same
clock; a pruned trial is told PRUNED). A ``/rN`` suffix (``random+asha/r3``)
puts the first rung at epoch N (``min_resource``). Each method runs
``--seeds`` seeds (searcher, Hyperband bracket draw and curve fitting seeded
with the seed) up to ``--horizon`` simulated seconds.

Figures, per method, medians over the seeds, for each of ``--targets``
(fractions of the table's best final accuracy, the best accuracy after the
last epoch; default 0.99, the issue's, and the stricter 0.995 and 0.998):

- ``targets.T.time``: simulated seconds until some trial reports an
  accuracy of at least ``T × best final``; a seed that does not get there
  within the horizon counts as never (the median is null when more than
  half never do). The accuracy a trial reports at any epoch counts (a
  checkpoint of that epoch has it), as the ASHA paper's incumbent (the
  best intermediate result); ``epochs`` and ``trials``: epochs trained (all
  workers) and trials started by then.
- ``targets.T.completed_time`` / ``completed_epochs``: the same counting only
  the final accuracy of trials that trained all their epochs (a user who
  keeps fully trained models only); ``completed_reached``: seeds that got
  there.
- ``best_at`` / ``best_completed_at``: the best accuracy by 1/8, 1/4, 1/2
  and all of the horizon (``budgets_s`` gives the seconds), counting any
  epoch / completed trials only.
- ``table``: the share of configurations whose final accuracy reaches
  each target, each configuration's own seconds of training to a target
  (fastest, median), and how well early epochs rank the final accuracy;
  ``half_random_median``: for each target, how likely blind draws reach it
  in half of random + median stopping's time (``blind_bound``).
- ``epochs_in_horizon``, ``trials_in_horizon``, ``stopped_share`` and
  ``paused_share`` (of the trials not running at the horizon, over all
  seeds).

The default horizon is the time the workers need to train 16 configurations
each to the end at the table's mean cost (or a fifth of the table, if more).

Prints one JSON line; progress goes to stderr.
"""
import argparse
import heapq
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
DATA = os.path.join(REPO, 'benchmarks', 'data', 'digits_tabular.json')
PARAMS = ('lr', 'base_channels', 'weight_decay', 'batch_size')
LOG_REAL = ('lr', 'weight_decay')          # Real(log=True) spaces
BUDGET_FRACTIONS = (0.125, 0.25, 0.5, 1.0)   # of the horizon
# a trial's fate after an epoch: it goes on, or it ended so
GO, STOP, PAUSE, COMPLETED = 'go', 'stop', 'pause', 'completed'


# -- the table ---------------------------------------------------------------
class Table:
    """The table as the simulation reads it, through ``_tabular.Tabular``
    (its default cost: an epoch costs the median seconds per epoch of the
    runs with the same width and batch size): ``configs[i]``, ``curves[i]``
    (accuracy after each epoch), ``seconds[i]`` (simulated seconds of one
    epoch), ``epochs``, ``best_final`` (the best accuracy after the last
    epoch)."""

    def __init__(self, path=DATA, cost='group', first=None):
        from _tabular import Tabular
        if first is not None:  # the table's first rows only
            import tempfile
            with open(path) as f:
                data = json.load(f)
            data['runs'] = sorted(data['runs'],
                                  key=lambda r: r['index'])[:first]
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, 'table.json')
                with open(path, 'w') as f:
                    json.dump(data, f)
                self.tabular = Tabular(path, cost)
        else:
            self.tabular = Tabular(path, cost)
        count = len(self.tabular)
        if not count:
            raise ValueError(f'{path}: the table has no runs')
        self.configs = [self.tabular.config(i) for i in range(count)]
        self.curves = [[float(v) for v in self.tabular.curve(i)]
                       for i in range(count)]
        self.seconds = [float(self.tabular.seconds_per_epoch(i))
                        for i in range(count)]
        self.epochs = self.tabular.max_epochs
        if any(len(c) != self.epochs for c in self.curves):
            raise ValueError(f'{path}: every curve needs {self.epochs} '
                             'epochs')
        self.best_final = self.tabular.best()[1]

    def space(self):
        """gml spaces over the table's parameters and their ranges."""
        from gml.space import Categorical, Real
        space = {}
        for name in PARAMS:
            values = sorted({c[name] for c in self.configs})
            if name in LOG_REAL:
                space[name] = Real(float(values[0]), float(values[-1]),
                                   log=True)
            else:
                space[name] = Categorical(values)
        return space

    def nearest(self, params):
        """The row trained for a suggestion: ``Tabular.nearest`` (the same
        width and batch size, then the least log10 distance in learning
        rate and weight decay)."""
        return self.tabular.nearest(**{p: params[p] for p in PARAMS})


# -- the methods -------------------------------------------------------------
def split_method(method):
    """``'random+asha/r3'`` -> ``('random+asha', 3)``: a ``/rN`` suffix
    sets the first rung (``min_resource``) of the multi-fidelity methods."""
    name, _, rung = method.partition('/r')
    if rung and not rung.isdigit():
        raise ValueError(f'bad method {method!r}: /rN takes a number')
    return name, int(rung or 1)


def method_configs(epochs, min_resource=1):
    """name -> (searcher config, assessor config or None), or 'optuna'."""
    rungs = dict(min_resource=min_resource, max_resource=epochs,
                 reduction_factor=3)
    random = dict(type='random')
    tpe = dict(type='tpe')
    return {
        'random': (random, None),
        'random+median': (random, dict(type='MedianStopAssessor')),
        'random+asha': (random, dict(type='asha', **rungs)),
        'random+hyperband': (random, dict(type='hyperband', **rungs)),
        'random+asha_cf': (random, dict(type='asha', predict='curve_fitting',
                                        **rungs)),
        'random+asha_p': (random, dict(type='asha', mode='promote', **rungs)),
        'random+asha_pr': (random, dict(type='asha', mode='promote',
                                        **rungs)),
        'random+hyperband_p': (random, dict(type='hyperband', mode='promote',
                                            **rungs)),
        'tpe': (tpe, None),
        'tpe+hyperband': (tpe, dict(type='hyperband', **rungs)),
        'tpe+asha': (tpe, dict(type='asha', **rungs)),
        'tpe+asha_p': (tpe, dict(type='asha', mode='promote', **rungs)),
        'tpe+hyperband_p': (tpe, dict(type='hyperband', mode='promote',
                                      **rungs)),
        'optuna': 'optuna',
    }


class GmlDriver:
    """A gml searcher and assessor (or None), called as the controller
    calls them. ``restarts``: a promoted trial trains again from its first
    epoch (no checkpoint to resume from) instead of going on from its
    rung."""

    def __init__(self, searcher, assessor=None, restarts=False):
        self.searcher = searcher
        self.assessor = assessor
        self.restarts = restarts
        self.told = set()  # trials the searcher has learned (once each)

    @classmethod
    def build(cls, table, searcher_cfg, assessor_cfg, seed, restarts=False):
        """Build both from config dicts through the registries."""
        from gml.search import assessors, searchers  # noqa: F401 (register)
        from gml.search.registry import ASSESSORS, SEARCHERS
        searcher = SEARCHERS.build(dict(searcher_cfg, seed=seed),
                                   'searcher', space=table.space())
        assessor = None
        if assessor_cfg is not None:
            cfg = dict(assessor_cfg)
            if cfg['type'] == 'hyperband' or cfg.get('predict'):
                cfg.setdefault('seed', seed)
            assessor = ASSESSORS.build(cfg, 'scheduler.assessor')
        return cls(searcher, assessor, restarts)

    def start(self, trial_id):
        params = self.searcher.suggest()
        return params, params

    def promotion(self):
        """A paused trial to go on with before any new one (or None)."""
        if self.assessor is None:
            return None
        return self.assessor.promotion()

    def report(self, trial_id, handle, history):
        if self.assessor is None or \
                self.assessor.assess(trial_id, list(history)):
            return GO
        return STOP if self.assessor.pause_rung(trial_id) is None else PAUSE

    def end(self, trial_id, handle, history, state):
        if trial_id not in self.told:  # as the controller: once, at the
            self.told.add(trial_id)    # first end or pause
            self.searcher.observe(handle, float(history[-1]))
        self.searcher.observe_steps(handle, list(history),
                                    state == COMPLETED, float(history[-1]))
        if self.assessor is not None:
            self.assessor.trial_end(trial_id, list(history),
                                    completed=state == COMPLETED,
                                    paused=state == PAUSE)


class OptunaDriver:
    """Optuna's TPESampler and HyperbandPruner through ask/tell."""

    restarts = False  # it never resumes a trial

    def __init__(self, table, seed, min_resource=1):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.space = table.space()
        self.study = optuna.create_study(
            study_name=f'multifidelity-{seed}', direction='maximize',
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.HyperbandPruner(
                min_resource=min_resource, max_resource=table.epochs,
                reduction_factor=3))

    def start(self, trial_id):
        trial = self.study.ask()
        params = {}
        for name, space in self.space.items():
            if name in LOG_REAL:
                params[name] = trial.suggest_float(name, space.lower,
                                                   space.upper, log=True)
            else:
                params[name] = trial.suggest_categorical(name,
                                                         list(space.data))
        return trial, params

    def promotion(self):
        return None  # Optuna's pruners stop trials; none is ever resumed

    def report(self, trial_id, trial, history):
        trial.report(float(history[-1]), step=len(history))
        return STOP if trial.should_prune() else GO

    def end(self, trial_id, trial, history, state):
        if state == COMPLETED:
            self.study.tell(trial, float(history[-1]))
        else:
            self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)


def make_driver(table, method, seed):
    name, min_resource = split_method(method)
    spec = method_configs(table.epochs, min_resource)[name]
    if spec == 'optuna':
        return OptunaDriver(table, seed, min_resource)
    return GmlDriver.build(table, spec[0], spec[1], seed,
                           restarts=name.endswith('_pr'))


# -- the simulation ----------------------------------------------------------
def simulate(table, driver, horizon, workers=4):
    """Replay one search on the simulated clock until ``horizon`` seconds.

    A freed worker first goes on with a paused trial the assessor promotes
    (promote mode), from the epoch it paused at, or, for a driver that
    ``restarts``, from its first epoch again (the epochs up to its pause
    are paid again and report the same values, which are not counted
    twice); otherwise it starts a new trial.

    Returns a dict: ``reports`` ((time, accuracy, epochs trained so far,
    trials started so far) for every epoch that ended, in time order),
    ``completions`` (the same for the last epoch of every completed
    trial),
    ``trials`` ([config index, epochs trained, state] per trial, state
    'running', 'completed', 'stopped' or 'paused'),
    ``epochs``: epochs trained within the horizon.
    """
    events = []  # (time the trial's next epoch ends, trial id)
    running, paused = {}, {}  # trial id -> [handle, config index, history]
    trials, reports, completions = [], [], []
    epochs_done = 0

    def start(now):
        nonlocal epochs_done
        trial_id = driver.promotion()
        if trial_id is not None:
            running[trial_id] = paused.pop(trial_id)
            trials[trial_id][2] = 'running'
            index, history = running[trial_id][1:]
            redo = len(history) if driver.restarts else 0
            epochs_done += redo
            heapq.heappush(events, (now + table.seconds[index] * (redo + 1),
                                    trial_id))
            return
        trial_id = len(trials)
        handle, params = driver.start(trial_id)
        index = table.nearest(params)
        trials.append([index, 0, 'running'])
        running[trial_id] = [handle, index, []]
        heapq.heappush(events, (now + table.seconds[index], trial_id))

    for _ in range(workers):
        start(0.0)
    while events:
        now, trial_id = heapq.heappop(events)
        if now > horizon:
            break
        handle, index, history = running[trial_id]
        history.append(table.curves[index][len(history)])
        epochs_done += 1
        trials[trial_id][1] = len(history)
        reports.append((now, history[-1], epochs_done, len(trials)))
        verdict = COMPLETED if len(history) == table.epochs else \
            driver.report(trial_id, handle, history)
        if verdict == GO:
            heapq.heappush(events, (now + table.seconds[index], trial_id))
            continue
        entry = running.pop(trial_id)
        trials[trial_id][2] = {COMPLETED: 'completed', STOP: 'stopped',
                               PAUSE: 'paused'}[verdict]
        if verdict == COMPLETED:
            completions.append(reports[-1])
        elif verdict == PAUSE:
            paused[trial_id] = entry
        driver.end(trial_id, handle, history, verdict)
        start(now)
    return dict(reports=reports, completions=completions, trials=trials,
                epochs=epochs_done)


def first_reaching(points, level):
    """The first (time, ...) of ``points`` whose value reaches ``level``."""
    for point in points:
        if point[1] >= level - 1e-9:
            return point
    return None


def best_by(points, budget):
    """The best value among ``points`` up to time ``budget`` (None if
    none)."""
    values = [p[1] for p in points if p[0] <= budget]
    return max(values) if values else None


def median_or_none(values):
    """The median, with None as +infinity; None if it is infinite."""
    ranked = [math.inf if v is None else v for v in values]
    middle = statistics.median(ranked)
    return None if math.isinf(middle) else round(middle, 3)


def _median_best(points_of_runs, budget):
    values = [best_by(points, budget) for points in points_of_runs]
    middle = statistics.median(-math.inf if v is None else v for v in values)
    return None if math.isinf(middle) else round(middle, 3)


def summarise(runs, table, targets, budgets):
    """Per-method figures from the runs of its seeds."""
    out = dict(targets={}, best_at={}, best_completed_at={})
    for target in targets:
        level = target * table.best_final
        hits = [first_reaching(r['reports'], level) for r in runs]
        done = [first_reaching(r['completions'], level) for r in runs]
        out['targets'][str(target)] = dict(
            time=median_or_none([h and h[0] for h in hits]),
            epochs=median_or_none([h and h[2] for h in hits]),
            trials=median_or_none([h and h[3] for h in hits]),
            time_seeds=[None if h is None else round(h[0], 2)
                        for h in hits],
            completed_time=median_or_none([d and d[0] for d in done]),
            completed_epochs=median_or_none([d and d[2] for d in done]),
            completed_reached=sum(d is not None for d in done))
    for label, budget in budgets.items():
        out['best_at'][label] = _median_best(
            [r['reports'] for r in runs], budget)
        out['best_completed_at'][label] = _median_best(
            [r['completions'] for r in runs], budget)
    out['epochs_in_horizon'] = statistics.median(r['epochs'] for r in runs)
    out['trials_in_horizon'] = statistics.median(
        len(r['trials']) for r in runs)
    states = [t[2] for r in runs for t in r['trials'] if t[2] != 'running']
    out['stopped_share'] = round(
        states.count('stopped') / max(1, len(states)), 3)
    out['paused_share'] = round(
        states.count('paused') / max(1, len(states)), 3)
    return out


def ranks(values):
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and \
                values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs, ys):
    """Spearman's rank correlation (None when a side is constant)."""
    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.mean(rx), statistics.mean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return None if not sxx or not syy else sxy / math.sqrt(sxx * syy)


def diagnostics(table, targets):
    """How hard the table is: the share of its configurations whose final
    accuracy reaches each target, and how well the accuracy after 1, 3, 9
    epochs ranks the configurations by final accuracy (Spearman)."""
    finals = [c[-1] for c in table.curves]
    correlation = {}
    for epoch in (1, 3, 9):
        if epoch < table.epochs:
            rho = spearman([c[epoch - 1] for c in table.curves], finals)
            correlation[str(epoch)] = None if rho is None else round(rho, 3)
    own = {}
    for t in targets:
        times = sorted(x for x in (own_time_to(table, i, t)
                                   for i in range(len(finals)))
                       if x is not None)
        own[str(t)] = dict(
            reaching=len(times), fastest=times[0] if times else None,
            median=round(statistics.median(times), 2) if times else None)
    return dict(
        share_reaching={str(t): round(sum(
            f >= t * table.best_final - 1e-9 for f in finals)
            / len(finals), 3) for t in targets},
        own_seconds_to_target=own,
        rank_correlation_with_final=correlation)


def own_time_to(table, index, target):
    """Seconds of its own training until configuration ``index`` first
    reports ``target × best final`` at some epoch (None if never)."""
    level = target * table.best_final - 1e-9
    for epoch, value in enumerate(table.curves[index], start=1):
        if value >= level:
            return round(epoch * table.seconds[index], 2)
    return None


def blind_bound(table, target, seconds, workers):
    """How likely a search that knows nothing yet reaches ``target`` within
    ``seconds``: the share of configurations whose own training gets there
    that fast, and the chance that the first round (``workers`` uniform
    draws started at time 0) contains one. When ``seconds`` is about one
    round and the first epochs say little about the last (see
    ``rank_correlation_with_final``), the first round is nearly all a
    search has: a median time below ``seconds`` then needs this chance
    above 1/2."""
    quick = sum(1 for i in range(len(table.curves))
                if (own_time_to(table, i, target) or math.inf) <= seconds)
    share = quick / len(table.curves)
    return dict(seconds=round(seconds, 2), share_within=round(share, 3),
                first_round_chance=round(1 - (1 - share) ** workers, 3))


def _seconds(value, reached=None, seeds=None):
    """A median time for the table: '—' when not reached in half the
    seeds, with how many seeds got there when not all did."""
    text = '—' if value is None else f'{value:.1f}'
    if reached is not None and reached < seeds:
        text += f' ({reached}/{seeds})'
    return text


def markdown(results, seeds):
    """The figures as the markdown table of docs/benchmarks.md."""
    head = ('| method | time to 99% / 99.5% / 99.8% (s) | trials in horizon '
            '| completed trials only: time to 99% / 99.5% / 99.8% (s) '
            '| best at 1/8 · 1/4 · 1/2 · 1 of the horizon '
            '| completed best at 1/8 · 1/4 · 1/2 · 1 '
            '| stopped (paused) |')
    lines = [head, '|' + '---|' * 7]
    for method, out in results.items():
        targets = out['targets'].values()
        any_epoch = ' / '.join(_seconds(
            t['time'], sum(v is not None for v in t['time_seeds']), seeds)
            for t in targets)
        completed = ' / '.join(_seconds(
            t['completed_time'], t['completed_reached'], seeds)
            for t in targets)
        best = ' · '.join('—' if v is None else f'{v:.2f}'
                          for v in out['best_at'].values())
        done = ' · '.join('—' if v is None else f'{v:.2f}'
                          for v in out['best_completed_at'].values())
        share = f"{out['stopped_share']:.0%}"
        if out['paused_share']:
            share += f" ({out['paused_share']:.0%})"
        lines.append(f'| `{method}` | {any_epoch} | '
                     f"{out['trials_in_horizon']:g} | {completed} | {best} | "
                     f'{done} | {share} |')
    return '\n'.join(lines)


def default_horizon(table, workers):
    """Simulated seconds for ``workers`` workers to train 16 configurations
    each (or a fifth of the table, if more) to the end, at the table's mean
    cost of a full run."""
    full = [s * table.epochs for s in table.seconds]
    count = max(16 * workers, len(full) // 5)
    return round(statistics.mean(full) * count / workers, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=DATA)
    parser.add_argument('--configs', type=int, default=None,
                        help='use the first N configurations of the table '
                        '(default: all)')
    parser.add_argument('--seeds', type=int, default=10)
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--horizon', type=float, default=None,
                        help='simulated seconds per search (default: a '
                        'tenth of the table trained fully by the workers)')
    parser.add_argument('--targets', default='0.99,0.995,0.998',
                        help='fractions of the best final accuracy')
    parser.add_argument('--markdown', action='store_true',
                        help='also print the figures as a markdown table '
                        '(to stderr)')
    parser.add_argument('--methods', default='random,random+median,'
                        'random+asha,random+asha/r3,random+asha/r9,'
                        'random+hyperband,random+hyperband/r3,'
                        'random+asha_cf,random+asha_p,random+asha_pr,'
                        'random+hyperband_p,tpe,tpe+hyperband,'
                        'tpe+hyperband/r3,tpe+asha_p,optuna,optuna/r3')
    args = parser.parse_args()
    table = Table(args.data, first=args.configs)
    known = method_configs(table.epochs)
    methods = [m for m in args.methods.split(',') if m]
    for name in methods:
        try:
            base, rung = split_method(name)
        except ValueError as exc:
            parser.error(str(exc))
        if base not in known or not 1 <= rung < table.epochs:
            parser.error(f'unknown method {name!r}; expected some of '
                         f'{sorted(known)}')
    targets = [float(t) for t in args.targets.split(',') if t]
    horizon = args.horizon or default_horizon(table, args.workers)
    started = time.perf_counter()
    runs = {}
    for method in methods:
        runs[method] = []
        for seed in range(args.seeds):
            wall = time.perf_counter()
            run = simulate(table, make_driver(table, method, seed), horizon,
                           args.workers)
            run['wall_s'] = time.perf_counter() - wall
            runs[method].append(run)
            hit = first_reaching(run['reports'],
                                 targets[0] * table.best_final)
            print(f'{method} seed {seed}: target at '
                  f'{"never" if hit is None else f"{hit[0]:.1f} s"}, '
                  f'{len(run["trials"])} trials, {run["epochs"]} epochs, '
                  f'{run["wall_s"]:.1f} s wall '
                  f'({time.perf_counter() - started:.0f} s)',
                  file=sys.stderr, flush=True)
    budgets = {f'{f:g}': round(f * horizon, 2) for f in BUDGET_FRACTIONS}
    results = {}
    for method in methods:
        results[method] = summarise(runs[method], table, targets, budgets)
        results[method]['wall_s_per_seed'] = round(statistics.mean(
            r['wall_s'] for r in runs[method]), 2)
    bounds = {}
    if 'random+median' in results:  # what 2x sooner would take
        for target in targets:
            middle = results['random+median']['targets'][str(target)]['time']
            if middle is not None:
                bounds[str(target)] = blind_bound(table, target, middle / 2,
                                                  args.workers)
    print(json.dumps(dict(
        benchmark='hpo_multifidelity', data=os.path.relpath(args.data, REPO),
        configs=len(table.configs), epochs=table.epochs,
        best_final=table.best_final,
        targets={str(t): round(t * table.best_final, 4) for t in targets},
        table=diagnostics(table, targets),
        half_random_median=bounds,
        seeds=args.seeds, workers=args.workers, horizon_s=horizon,
        budgets_s=budgets, methods=results,
        wall_s=round(time.perf_counter() - started, 1),
        machine=machine())))
    if args.markdown:
        print(markdown(results, args.seeds), file=sys.stderr)


if __name__ == '__main__':
    main()
