"""The task store: one SQLite file per task, written only by its controller.

Trials never touch the database: they append metrics to their own files
(see :mod:`gml.search.report`), which the controller reads and records here.
So many trials on a shared filesystem never contend for a lock, and readers
(``search-ctl``) open the file read-only in WAL mode without blocking the
controller.
"""
import itertools
import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import quote

from .optimize_mode import OptimizeMode


class _Word(str, Enum):
    """A state stored as its name; it compares equal to that string, so
    rows written before the enum existed read the same."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class TrialState(_Word):
    """Where a trial is (the ``state`` column of the trials table)."""

    WAITING = 'WAITING'              # created or re-queued, not running
    RUNNING = 'RUNNING'              # its process or job runs
    COMPLETED = 'COMPLETED'          # exited 0 and reported the reward
    FAILED = 'FAILED'                # anything else that ended it badly
    EARLY_STOPPED = 'EARLY_STOPPED'  # stopped by the assessor
    PAUSED = 'PAUSED'                # paused at a rung; may be promoted
    STOPPED = 'STOPPED'              # stopped with the whole task

    @property
    def ended(self) -> bool:
        """True once the trial does not run (a PAUSED trial runs again
        only if the assessor promotes it)."""
        return self not in (TrialState.WAITING, TrialState.RUNNING)


class TaskState(_Word):
    """Where a task is (``state`` in the meta table); INTERRUPTED is never
    stored: it is a RUNNING task whose controller is gone."""

    RUNNING = 'RUNNING'
    DONE = 'DONE'
    STOPPED = 'STOPPED'
    INTERRUPTED = 'INTERRUPTED'

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    reward REAL,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    job_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    paused_reward REAL
);
CREATE TABLE IF NOT EXISTS metrics (
    trial_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, name, step)
);
CREATE INDEX IF NOT EXISTS trials_by_state ON trials (state);
CREATE INDEX IF NOT EXISTS trials_by_end ON trials (ended);
"""


@dataclass
class Trial:
    """One row of the trials table."""
    id: int
    params: Dict[str, Any]
    state: TrialState
    reward: Optional[float]
    created: float
    started: Optional[float]
    ended: Optional[float]
    job_id: Optional[str]
    attempts: int
    message: Optional[str]
    paused_reward: Optional[float] = None  # its reward when first paused

    def __post_init__(self):
        self.state = TrialState(self.state)

    @property
    def duration(self) -> Optional[float]:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


def _trial(row: Tuple) -> Trial:
    return Trial(row[0], json.loads(row[1]), *row[2:])


def connect_read_only(path: str, timeout: float = 10) -> sqlite3.Connection:
    """A connection to a task store that cannot write, not even a journal
    (``mode=ro``, ``query_only``), usable from any thread, waiting at most
    ``timeout`` seconds for a busy store; the controller, the only writer,
    is never locked out by it."""
    uri = 'file:' + quote(os.path.abspath(path)) + '?mode=ro'
    db = sqlite3.connect(uri, uri=True, timeout=timeout,
                         check_same_thread=False)
    db.execute('PRAGMA query_only = 1')
    return db


class TaskStore:
    """Read and write one task's database.

    The writer keeps every trial's state in memory (loaded on first use,
    then kept by :meth:`add_trial` and :meth:`update_trial`), so
    :meth:`state_counts` and :meth:`count_trials` cost nothing per call,
    however many trials the task has.

    Args:
        path: the SQLite file.
        readonly: open without write access (for ``search-ctl``).
    """

    def __init__(self, path: str, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self._states: Optional[Dict[int, str]] = None  # writer's tally
        self._counts: Counter = Counter()
        if readonly:
            if not os.path.isfile(path):
                raise FileNotFoundError(path)
            self.db = connect_read_only(path, timeout=10)
        else:
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute('PRAGMA journal_mode=WAL')
            self.db.execute('PRAGMA synchronous=NORMAL')
            self.db.executescript(SCHEMA)
            columns = [row[1] for row in
                       self.db.execute('PRAGMA table_info(trials)')]
            if 'paused_reward' not in columns:  # a store from before
                self.db.execute('ALTER TABLE trials ADD COLUMN '
                                'paused_reward REAL')
            self.db.commit()

    def close(self) -> None:
        self.db.close()

    # -- meta --------------------------------------------------------------
    def set_meta(self, **values: Any) -> None:
        self.db.executemany(
            'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
            [(k, json.dumps(v)) for k, v in values.items()])
        self.db.commit()

    def meta(self) -> Dict[str, Any]:
        rows = self.db.execute('SELECT key, value FROM meta').fetchall()
        return {k: json.loads(v) for k, v in rows}

    # -- trials ------------------------------------------------------------
    def add_trial(self, params: Dict[str, Any]) -> int:
        cur = self.db.execute(
            'INSERT INTO trials (params, state, created) VALUES (?, ?, ?)',
            (json.dumps(params), TrialState.WAITING.value, time.time()))
        self.db.commit()
        self._tally_state(int(cur.lastrowid), TrialState.WAITING)
        return int(cur.lastrowid)

    def update_trial(self, trial_id: int, **values: Any) -> None:
        columns = ', '.join(f'{k} = ?' for k in values)
        self.db.execute(f'UPDATE trials SET {columns} WHERE id = ?',
                        (*values.values(), trial_id))
        self.db.commit()
        if 'state' in values:
            self._tally_state(trial_id, values['state'])

    def _tally_state(self, trial_id: int, state: str) -> None:
        if self._states is None:  # not loaded yet: loaded as it is now
            return
        old = self._states.get(trial_id)
        if old is not None:
            self._counts[old] -= 1
        self._states[trial_id] = TrialState(state).value
        self._counts[self._states[trial_id]] += 1

    def _tally(self) -> Dict[int, str]:
        if self._states is None:
            self._states = dict(self.db.execute('SELECT id, state FROM trials'))
            self._counts = Counter(self._states.values())
        return self._states

    def state_counts(self) -> Dict[str, int]:
        """How many trials are in each state (states with none left out)."""
        if self.readonly:
            rows = self.db.execute(
                'SELECT state, COUNT(*) FROM trials GROUP BY state')
            return dict(rows.fetchall())
        self._tally()
        return {state: n for state, n in self._counts.items() if n}

    def trials(self, states: Optional[Iterable[TrialState]] = None,
               last: Optional[int] = None) -> List[Trial]:
        """The trials (in ``states``), by id; only the ``last`` ones."""
        query = 'SELECT * FROM trials'
        args: Tuple = ()
        if states is not None:
            states = tuple(TrialState(s).value for s in states)
            query += f' WHERE state IN ({",".join("?" * len(states))})'
            args = states
        if last is not None:
            rows = self.db.execute(query + ' ORDER BY id DESC LIMIT ?',
                                   args + (last, )).fetchall()[::-1]
        else:
            rows = self.db.execute(query + ' ORDER BY id', args).fetchall()
        return [_trial(row) for row in rows]

    def trial(self, trial_id: int) -> Optional[Trial]:
        row = self.db.execute('SELECT * FROM trials WHERE id = ?',
                              (trial_id, )).fetchone()
        return _trial(row) if row else None

    def best_trials(self, count: Optional[int], mode: OptimizeMode) -> \
            List[Trial]:
        """The ``count`` (None: all) best COMPLETED trials with a reward,
        best first (the earliest of equals first)."""
        order = 'DESC' if mode is OptimizeMode.MAXIMIZE else 'ASC'
        query = ('SELECT * FROM trials WHERE state = ? AND reward IS NOT '
                 f'NULL ORDER BY reward {order}, id')
        args: Tuple = (TrialState.COMPLETED.value, )
        if count is not None:
            query, args = query + ' LIMIT ?', args + (count, )
        return [_trial(row) for row in self.db.execute(query, args)]

    def recent_trials(self, count: int) -> List[Trial]:
        """The last ``count`` trials that ended (by end time), oldest first."""
        rows = self.db.execute(
            'SELECT * FROM trials WHERE ended IS NOT NULL '
            'ORDER BY ended DESC, id DESC LIMIT ?', (count, )).fetchall()
        return [_trial(row) for row in reversed(rows)]

    def count_trials(self) -> int:
        if not self.readonly:
            return len(self._tally())
        return self.db.execute('SELECT COUNT(*) FROM trials').fetchone()[0]

    # -- metrics -----------------------------------------------------------
    def add_metrics(self, trial_id: int,
                    records: Iterable[Tuple[str, int, float]]) -> None:
        self.db.executemany(
            'INSERT OR REPLACE INTO metrics (trial_id, name, step, value) '
            'VALUES (?, ?, ?, ?)',
            [(trial_id, name, step, value) for name, step, value in records])
        self.db.commit()

    def metric_series(self, trial_id: int, name: str) -> List[Tuple[int, float]]:
        rows = self.db.execute(
            'SELECT step, value FROM metrics WHERE trial_id = ? AND name = ? '
            'ORDER BY step', (trial_id, name)).fetchall()
        return [(int(s), v) for s, v in rows]

    def metrics_by_trial(self) -> \
            Iterator[Tuple[int, Dict[str, List[Tuple[int, float]]]]]:
        """``(trial id, {name: [(step, value), ...]})`` of every trial with
        metrics, by trial id: one ordered pass over the metrics table."""
        rows = self.db.execute('SELECT trial_id, name, step, value FROM '
                               'metrics ORDER BY trial_id, name, step')
        for trial_id, group in itertools.groupby(rows, key=lambda r: r[0]):
            series: Dict[str, List[Tuple[int, float]]] = {}
            for _, name, step, value in group:
                series.setdefault(name, []).append((int(step), value))
            yield trial_id, series

    def metric_names(self) -> List[str]:
        rows = self.db.execute('SELECT DISTINCT name FROM metrics ORDER BY name')
        return [r[0] for r in rows.fetchall()]
