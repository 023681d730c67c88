"""The task store: one SQLite file per task, written only by its controller.

Trials never touch the database: they append metrics to their own files
(see :mod:`gml.search.report`), which the controller reads and records here.
So many trials on a shared filesystem never contend for a lock, and readers
(``search-ctl``) open the file read-only in WAL mode without blocking the
controller.
"""
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Iterable, List, Optional, Tuple


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
    STOPPED = 'STOPPED'              # stopped with the whole task

    @property
    def ended(self) -> bool:
        """True once the trial will not run again."""
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
    message TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    trial_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, name, step)
);
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

    def __post_init__(self):
        self.state = TrialState(self.state)

    @property
    def duration(self) -> Optional[float]:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


class TaskStore:
    """Read and write one task's database.

    Args:
        path: the SQLite file.
        readonly: open without write access (for ``search-ctl``).
    """

    def __init__(self, path: str, readonly: bool = False):
        self.path = path
        if readonly:
            if not os.path.isfile(path):
                raise FileNotFoundError(path)
            uri = f'file:{os.path.abspath(path)}?mode=ro'
            self.db = sqlite3.connect(uri, uri=True, timeout=10)
        else:
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute('PRAGMA journal_mode=WAL')
            self.db.execute('PRAGMA synchronous=NORMAL')
            self.db.executescript(SCHEMA)
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
        return int(cur.lastrowid)

    def update_trial(self, trial_id: int, **values: Any) -> None:
        columns = ', '.join(f'{k} = ?' for k in values)
        self.db.execute(f'UPDATE trials SET {columns} WHERE id = ?',
                        (*values.values(), trial_id))
        self.db.commit()

    def trials(self, states: Optional[Iterable[TrialState]] = None) -> \
            List[Trial]:
        query = 'SELECT * FROM trials'
        args: Tuple = ()
        if states is not None:
            states = tuple(TrialState(s).value for s in states)
            query += f' WHERE state IN ({",".join("?" * len(states))})'
            args = states
        rows = self.db.execute(query + ' ORDER BY id', args).fetchall()
        return [Trial(row[0], json.loads(row[1]), *row[2:]) for row in rows]

    def trial(self, trial_id: int) -> Optional[Trial]:
        row = self.db.execute('SELECT * FROM trials WHERE id = ?',
                              (trial_id, )).fetchone()
        return Trial(row[0], json.loads(row[1]), *row[2:]) if row else None

    def count_trials(self) -> int:
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

    def metric_names(self) -> List[str]:
        rows = self.db.execute('SELECT DISTINCT name FROM metrics ORDER BY name')
        return [r[0] for r in rows.fetchall()]
