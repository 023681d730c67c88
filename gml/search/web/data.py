"""What the web view shows, read from the task stores without disturbing
their controllers.

Every request opens its own read-only connection (``file:...?mode=ro``,
``query_only``), runs a few short statements outside any long transaction
and closes it, so a running controller (the only writer) is never locked
out, and a WAL checkpoint is never held back for longer than one query.
The controller's lock file is never touched either: whether a controller
is alive is judged from its heartbeat and its pid.

Stores from earlier versions lack columns (``paused_reward``, ...): the
queries select only the columns a store has and fill in the rest.
"""
import json
import os
import re
import shlex
import socket
import sqlite3
import time
from typing import Any, Dict, List, Optional, Tuple

from ..optimize_mode import OptimizeMode
from ..schedulers.base import file_tail
from ..store import TaskState, TrialState, connect_read_only
from ..task import heartbeat_fresh, list_tasks

#: the trials columns the view reads, with the value a store without one
#: gives (stores from earlier versions lack the later columns)
TRIAL_COLUMNS = (('id', None), ('params', '{}'), ('state', 'WAITING'),
                 ('reward', None), ('created', None), ('started', None),
                 ('ended', None), ('attempts', 0), ('message', None),
                 ('paused_reward', None))

#: how much of a trial's log the trial view shows
LOG_TAIL_BYTES = 64 * 1024
LOG_TAIL_LINES = 200

_DECISION = re.compile(r'after (\d+) steps')


class NotFound(Exception):
    """A task, trial or file the request names does not exist (404)."""


def inside(base: str, path: str) -> bool:
    """True if ``path``, all links resolved, lies within ``base``."""
    base, path = os.path.realpath(base), os.path.realpath(path)
    return path == base or path.startswith(base + os.sep)


class TaskReader:
    """One task of the root, read for one request (a context manager that
    closes its connection).

    Args:
        root: the folder of the tasks.
        name: the task; only a name that :func:`list_tasks` lists is
            accepted (:class:`NotFound` otherwise), so no name reaches a
            path outside the root.
    """

    def __init__(self, root: str, name: str):
        if name not in list_tasks(root):
            raise NotFound(f'no task {name!r}')
        self.root, self.name = root, name
        self.path = os.path.join(root, name)
        self.db = connect_read_only(os.path.join(self.path, 'task.db'),
                                    timeout=5)
        self._columns: Dict[str, List[str]] = {}
        self._meta: Optional[Dict[str, Any]] = None

    def __enter__(self) -> 'TaskReader':
        return self

    def __exit__(self, *exc) -> None:
        self.db.close()

    # -- low level -----------------------------------------------------------
    def columns(self, table: str) -> List[str]:
        if table not in self._columns:
            self._columns[table] = [row[1] for row in self.db.execute(
                f'PRAGMA table_info({table})')]
        return self._columns[table]

    def file(self, *parts: str) -> Optional[str]:
        """The path of a file of the task (None if it is missing or, links
        resolved, outside the task's folder)."""
        path = os.path.join(self.path, *parts)
        if not os.path.isfile(path) or not inside(self.path, path):
            return None
        return path

    def meta(self) -> Dict[str, Any]:
        """The task's meta table, read once per reader (one request)."""
        if self._meta is None:
            self._meta = {}
            if 'key' in self.columns('meta'):
                for key, value in self.db.execute(
                        'SELECT key, value FROM meta'):
                    try:
                        self._meta[key] = json.loads(value)
                    except (TypeError, ValueError):
                        self._meta[key] = value
        return self._meta

    def trials(self, trial_id: Optional[int] = None) -> List[Dict[str, Any]]:
        """The trials (or the one ``trial_id``) as dicts, by id; params
        are flattened (``size.base``), durations in seconds."""
        have = set(self.columns('trials'))
        select = ', '.join(name if name in have else 'NULL'
                           for name, _ in TRIAL_COLUMNS)
        query = f'SELECT {select} FROM trials'
        args: Tuple = ()
        if trial_id is not None:
            query, args = query + ' WHERE id = ?', (trial_id, )
        rows = self.db.execute(query + ' ORDER BY id', args).fetchall()
        now = time.time()
        return [_trial_dict(row, now) for row in rows]

    def stamp(self) -> str:
        """Changes whenever a trial or metric changes (not with the
        heartbeat): the page refetches a task only then."""
        trials = set(self.columns('trials'))
        parts = ['COUNT(*)'] + [f'TOTAL({c})' for c in
                                ('started', 'ended', 'attempts', 'reward')
                                if c in trials]
        row = self.db.execute(f'SELECT {", ".join(parts)} FROM trials'
                              ).fetchone()
        states = self.db.execute('SELECT state, COUNT(*) FROM trials '
                                 'GROUP BY state ORDER BY state').fetchall()
        meta = self.meta()
        return json.dumps([list(row), states, self.last_metric_row(),
                           meta.get('state')], separators=(',', ':'))

    def completed_count(self) -> int:
        return self.db.execute('SELECT COUNT(*) FROM trials WHERE state = ?',
                               (TrialState.COMPLETED.value, )).fetchone()[0]

    def last_metric_row(self) -> int:
        row = self.db.execute('SELECT MAX(rowid) FROM metrics').fetchone()
        return int(row[0] or 0)

    def curves(self, after: int = 0) -> Dict[str, Dict[str, List[list]]]:
        """``{metric: {trial id: [[steps], [values]]}}`` of the metric rows
        written after row ``after`` (0: all), values to 6 digits."""
        rows = self.db.execute(
            'SELECT trial_id, name, step, value FROM metrics WHERE rowid > ? '
            'ORDER BY trial_id, name, step', (after, ))
        curves: Dict[str, Dict[str, List[list]]] = {}
        for trial_id, name, step, value in rows:
            steps, values = curves.setdefault(name, {}).setdefault(
                str(trial_id), [[], []])
            steps.append(int(step))
            values.append(_short(value))
        return curves

    def trial_metrics(self, trial_id: int) -> Dict[str, List[list]]:
        """Every metric of one trial: ``{name: [[step, value], ...]}``."""
        metrics: Dict[str, List[list]] = {}
        for name, step, value in self.db.execute(
                'SELECT name, step, value FROM metrics WHERE trial_id = ? '
                'ORDER BY name, step', (trial_id, )):
            metrics.setdefault(name, []).append([int(step), value])
        return metrics

    # -- what the page shows -------------------------------------------------
    def settings(self, meta: Dict[str, Any]) -> Tuple[str, OptimizeMode]:
        """The reward's name and direction from the stored config."""
        raw = meta.get('config') if isinstance(meta.get('config'), dict) \
            else {}
        searcher = raw.get('searcher') or {}
        try:
            mode = OptimizeMode.parse(searcher.get('optimize_mode',
                                                   'maximize'), 'mode')
        except Exception:  # an unreadable config still shows its trials
            mode = OptimizeMode.MAXIMIZE
        return str(searcher.get('reward_attribute', 'acc')), mode

    def state(self, meta: Dict[str, Any]) -> str:
        """RUNNING, DONE, STOPPED, or INTERRUPTED (stored as RUNNING, but
        its controller is gone)."""
        state = meta.get('state', 'UNKNOWN')
        if state != TaskState.RUNNING:
            return state
        if heartbeat_fresh(meta):
            return TaskState.RUNNING
        pid = meta.get('controller_pid')
        if meta.get('controller_host') == socket.gethostname() and pid:
            try:
                os.kill(int(pid), 0)
                return TaskState.RUNNING  # alive, its heartbeat late
            except (OSError, ValueError):
                pass
        return TaskState.INTERRUPTED

    def summary(self) -> Dict[str, Any]:
        """One row of the task list."""
        meta = self.meta()
        reward_name, mode = self.settings(meta)
        counts = dict(self.db.execute(
            'SELECT state, COUNT(*) FROM trials GROUP BY state').fetchall())
        order = 'DESC' if mode is OptimizeMode.MAXIMIZE else 'ASC'
        best = self.db.execute(
            'SELECT id, reward FROM trials WHERE state = ? AND reward IS NOT '
            f'NULL ORDER BY reward {order}, id LIMIT 1',
            (TrialState.COMPLETED.value, )).fetchone()
        state = self.state(meta)
        elapsed = float(meta.get('elapsed') or 0)
        if state == TaskState.RUNNING and meta.get('heartbeat'):
            elapsed += max(0.0, time.time() - float(meta['heartbeat']))
        done = sum(counts.get(s, 0) for s in (
            TrialState.COMPLETED, TrialState.EARLY_STOPPED,
            TrialState.PAUSED, TrialState.STOPPED))
        return dict(name=self.name, state=state,
                    stop_reason=meta.get('stop_reason'), counts=counts,
                    total=sum(counts.values()), done=done,
                    running=counts.get(TrialState.RUNNING, 0),
                    failed=counts.get(TrialState.FAILED, 0),
                    best=best[1] if best else None,
                    best_trial=best[0] if best else None,
                    elapsed=elapsed, created=meta.get('created'),
                    reward_name=reward_name, mode=mode.value)

    def detail(self, stamp: Optional[str] = None,
               after: Optional[int] = None) -> Dict[str, Any]:
        """The task's page: its summary, trials and curves. With the
        ``stamp`` of the page's copy, only whether it changed; with
        ``after`` (the last metric row the page has), only newer curve
        points (``curves_from`` says which applies). Read in one short
        read transaction: one snapshot, which never blocks the writer."""
        self.db.execute('BEGIN')
        try:
            return self._detail(stamp, after)
        finally:
            self.db.execute('COMMIT')

    def _detail(self, stamp: Optional[str],
                after: Optional[int]) -> Dict[str, Any]:
        now_stamp = self.stamp()
        if stamp is not None and stamp == now_stamp:
            return dict(name=self.name, stamp=now_stamp, unchanged=True,
                        summary=self.summary())
        last = self.last_metric_row()
        if after is None or after > last:
            after = 0
        meta = self.meta()
        trials = self.trials()
        return dict(name=self.name, stamp=now_stamp, unchanged=False,
                    summary=self.summary(), params=param_names(trials),
                    trials=trials, curves=self.curves(after),
                    curves_from=after, last_metric_row=last,
                    config=self.config_text(meta),
                    commands=self.commands())

    def config_text(self, meta: Dict[str, Any]) -> str:
        path = self.file('config.yaml')
        if path is not None:
            with open(path, errors='replace') as f:
                return f.read()
        import yaml
        return yaml.safe_dump(meta.get('config') or {}, sort_keys=False)

    def commands(self) -> Dict[str, str]:
        """The command lines that resume, stop and show the task."""
        root = shlex.quote(self.root)
        name = shlex.quote(self.name)
        return dict(resume=f'search-run --resume {name} --root {root}',
                    stop=f'search-ctl --root {root} stop -t {name}',
                    show=f'search-ctl --root {root} show -t {name}')

    def trial_detail(self, trial_id: int) -> Dict[str, Any]:
        """One trial with its whole message, its log's tail and metrics."""
        found = self.trials(trial_id)
        if not found:
            raise NotFound(f'task {self.name!r} has no trial {trial_id}')
        trial = found[0]
        log = self.file('trials', str(trial_id), 'log.txt')
        trial.update(log_tail=file_tail(log, LOG_TAIL_LINES, LOG_TAIL_BYTES)
                     if log else None,
                     metrics=self.trial_metrics(trial_id))
        return trial


def _short(value: Optional[float]) -> Optional[float]:
    """``value`` to 6 significant digits (curves are only drawn)."""
    if value is None or value != value or value in (float('inf'),
                                                    float('-inf')):
        return None
    return float(f'{value:.6g}')


def _trial_dict(row: Tuple, now: float) -> Dict[str, Any]:
    from ..cli.tables import flatten
    trial = {name: (default if value is None else value)
             for (name, default), value in zip(TRIAL_COLUMNS, row)}
    try:
        params = json.loads(trial['params'])
    except (TypeError, ValueError):
        params = {}
    trial['params'] = flatten(params) if isinstance(params, dict) else {}
    started, ended = trial['started'], trial['ended']
    trial['duration'] = None if started is None else \
        (ended or now) - started
    trial['decision'] = decision(trial)
    return trial


def decision(trial: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The assessor's decision on a trial: ``{kind: stopped|paused, step}``
    (step: from the message, when it says), or None."""
    state = trial['state']
    kinds = {TrialState.EARLY_STOPPED.value: 'stopped',
             TrialState.PAUSED.value: 'paused'}
    if state in kinds:
        found = _DECISION.search(trial.get('message') or '')
        return dict(kind=kinds[state],
                    step=int(found.group(1)) if found else None)
    if trial.get('paused_reward') is not None:
        return dict(kind='promoted', step=None)
    return None


def param_names(trials: List[Dict[str, Any]]) -> List[str]:
    """Every (flattened) parameter name of the trials, in first-seen
    order."""
    names: Dict[str, None] = {}
    for trial in trials:
        names.update(dict.fromkeys(trial['params']))
    return list(names)


def task_list(root: str) -> List[Dict[str, Any]]:
    """The summary of every task under ``root`` (a task whose store cannot
    be read is listed with its error)."""
    rows = []
    for name in list_tasks(root):
        try:
            with TaskReader(root, name) as reader:
                rows.append(reader.summary())
        except (sqlite3.Error, NotFound) as exc:
            rows.append(dict(name=name, state='UNREADABLE', error=str(exc)))
    return rows
