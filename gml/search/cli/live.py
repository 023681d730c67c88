"""search-run's live view in a terminal.

A rich display, redrawn a few times a second, of where the task stands:
trials running, waiting, done, failed and early-stopped, the best reward so
far, the limits left, and a table of the running trials (how long they have
run, their latest reward) and of the last trials that ended. The plain
status lines still go to the task's controller.log.
"""
import dataclasses
import time
from typing import Optional

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from ..controller import SearchStatus, format_seconds
from ..store import TrialState
from .tables import flatten, fmt, rich_table


def _params(params) -> str:
    return ' '.join(f'{k}={fmt(v)}' for k, v in flatten(params).items())


def render_status(status: SearchStatus, now: Optional[float] = None):
    """The live view of ``status`` (``now``: wall-clock time for the
    running trials' durations)."""
    now = time.time() if now is None else now
    summary = Text.assemble(
        ('search-run ', 'bold'), (f'[{status.task}]', 'bold cyan'),
        f'  elapsed {format_seconds(status.elapsed)}\n',
        ' | '.join(status.parts()))
    rows = []
    for trial, reward in status.running:
        seconds = now - trial.started if trial.started else None
        rows.append([trial.id, TrialState.RUNNING, reward,
                     format_seconds(seconds) if seconds is not None else None,
                     _params(trial.params)])
    for trial, reward in reversed(status.recent):
        duration = trial.duration
        rows.append([trial.id, trial.state, reward,
                     f'{duration:.1f}s' if duration is not None else None,
                     _params(trial.params)])
    if not rows:
        return summary
    best = status.best[0] if status.best else None
    highlight = next((i for i, row in enumerate(rows) if row[0] == best),
                     None)
    table = rich_table(['trial', 'state', status.reward_name, 'time',
                        'parameters'], rows, state_column=1,
                       highlight_row=highlight)
    return Group(summary, Text(''), table)


class LiveView:
    """A controller view (see :class:`gml.search.controller.StatusLines`)
    drawing :func:`render_status` on ``console`` while the task runs, and
    passing every status on to ``log_view`` (plain lines for the log).
    When it closes, the live display gives way to the last status line (the
    final table of trials follows it)."""

    detailed = True
    interval = 1.0  # seconds between fresh statuses from the controller

    def __init__(self, console: Console, log_view=None,
                 refresh_per_second: float = 4):
        self.console = console
        self.log_view = log_view
        self._status: Optional[SearchStatus] = None
        self._received = 0.0
        self._live = Live(console=console, transient=True,
                          refresh_per_second=refresh_per_second,
                          redirect_stdout=False, redirect_stderr=False,
                          get_renderable=self._render)

    def _render(self):
        status = self._status
        if status is None:
            return Text('search-run: starting ...')
        # between the controller's updates, the clocks keep going
        delta = time.monotonic() - self._received
        status = dataclasses.replace(
            status, elapsed=status.elapsed + delta,
            time_left=None if status.time_left is None else
            max(0.0, status.time_left - delta))
        return render_status(status)

    def status(self, status: SearchStatus, force: bool = False) -> None:
        self._status, self._received = status, time.monotonic()
        if self.log_view is not None:
            self.log_view.status(status, force)
        if force:
            self._live.refresh()

    def __enter__(self):
        self._live.start()
        return self

    def __exit__(self, *exc) -> None:
        self._live.stop()
        if self._status is not None:
            self.console.print(self._status.line(), highlight=False,
                               markup=False)
