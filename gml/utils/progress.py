"""Progress a person can read for work that takes more than a few seconds.

Built on rich: in a terminal, a live bar (counted work) or a spinner
(one long step) on stderr; in a log file or a pipe, where live output would
be noise, plain lines instead: one when a step starts, one when it ends with
its time, and for counted work one line at most every ``log_every`` seconds.
With ``start_delay`` the start line waits that many seconds and is left out
when the step ends or fails sooner (a step that may stop at once on a user
error then leaves that error as the only line).
Pure Python (no torch), so the HPO commands can use it too.

    with progress_task('scoring subnets', total=500) as bar:
        for ...:
            bar.advance(best=f'{best:.2f}')

    with progress_task('recalibrating BN', total=16) as bar:
        recalibrate(model, bar.iterate(loader))   # one step per item taken

    with progress_status('converting to int8'):
        convert(...)
"""
import contextlib
import sys
import threading
import time
from typing import Iterable, Iterator, Optional, TypeVar

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                           SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.text import Text

START_DELAY = 2.0  # a start_delay for steps that may fail at once
T = TypeVar('T')


def _console() -> Console:
    # plain lines are never wrapped at a guessed width (80 in a pipe)
    return Console(file=sys.stderr, soft_wrap=True)


def _is_live(console: Console) -> bool:
    return console.is_terminal and not console.is_dumb_terminal


class _StartLine:
    """Prints ``text`` after ``delay`` seconds unless cancelled first."""

    def __init__(self, console: Console, text: str, delay: float):
        self._console, self._text = console, text
        self._lock = threading.Lock()
        self._done = False
        if delay <= 0:
            self._print()
            self._timer = None
        else:
            self._timer = threading.Timer(delay, self._print)
            self._timer.daemon = True
            self._timer.start()

    def _print(self) -> None:
        with self._lock:
            if not self._done:
                self._done = True
                self._console.print(self._text, highlight=False,
                                    markup=False)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()


class ProgressTask:
    """A handle on one counted piece of work; see :func:`progress_task`."""

    def __init__(self, description: str, total: Optional[int],
                 console: Console, log_every: float):
        self.description = description
        self.total = total
        self.completed = 0
        self.fields = {}
        self._console = console
        self._log_every = log_every
        self._started = time.monotonic()
        self._last_line = self._started
        self._live: Optional[Progress] = None
        self._task_id = None

    def _line(self) -> str:
        done = (f'{self.completed}/{self.total}' if self.total is not None
                else str(self.completed))
        extra = ''.join(f', {k} {v}' for k, v in self.fields.items())
        return f'{self.description}: {done}{extra}'

    def advance(self, steps: int = 1, **fields) -> None:
        """Count ``steps`` more units done; ``fields`` (e.g. ``best=...``)
        are shown beside the count."""
        self.completed += steps
        self.fields.update({k: str(v) for k, v in fields.items()})
        if self._live is not None:
            self._live.update(self._task_id, advance=steps,
                              info=self._info())
            return
        now = time.monotonic()
        if now - self._last_line >= self._log_every:
            self._last_line = now
            self._console.print(self._line(), highlight=False, markup=False)

    def update(self, **fields) -> None:
        """Change the fields shown without counting work."""
        self.advance(0, **fields)

    def iterate(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items``, counting one step each time the consumer is done
        with one (asks for the next, or the items run out)."""
        taken = False
        for item in items:
            if taken:
                self.advance()
            taken = True
            yield item
        if taken:
            self.advance()

    def _info(self) -> str:
        return '  '.join(f'{k} {v}' for k, v in self.fields.items())


@contextlib.contextmanager
def progress_task(description: str, total: Optional[int] = None,
                  log_every: float = 10.0,
                  start_delay: float = 0.0) -> Iterator[ProgressTask]:
    """Show counted work (``total`` units, or unknown when ``None``)."""
    console = _console()
    task = ProgressTask(description, total, console, log_every)
    if _is_live(console):
        columns = [SpinnerColumn(), TextColumn('{task.description}'),
                   BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), TextColumn('{task.fields[info]}')]
        with Progress(*columns, console=console, transient=False) as live:
            task._live = live
            task._task_id = live.add_task(description, total=total, info='')
            yield task
        return
    start = _StartLine(console, f'{description} ...', start_delay)
    try:
        yield task
    finally:
        start.cancel()
    elapsed = time.monotonic() - task._started
    console.print(f'{task._line()} (done in {elapsed:.1f} s)',
                  highlight=False, markup=False)


@contextlib.contextmanager
def progress_status(description: str,
                    start_delay: float = 0.0) -> Iterator[None]:
    """Show one long step that cannot be counted (a spinner, or a start
    line and a done line with the time taken)."""
    console = _console()
    started = time.monotonic()
    if _is_live(console):
        with console.status(Text(f'{description} ...')):
            yield
    else:
        start = _StartLine(console, f'{description} ...', start_delay)
        try:
            yield
        finally:
            start.cancel()
    console.print(f'{description}: done in '
                  f'{time.monotonic() - started:.1f} s', highlight=False,
                  markup=False)
