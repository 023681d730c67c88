"""Tables and summaries shared by search-run and search-ctl: rich tables
in a terminal, plain aligned text in a pipe or a file (which scripts and
the tests read)."""
import json
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

from ..store import Trial, TrialState

# a colour per trial state in the rich tables
STATE_STYLES = {TrialState.COMPLETED: 'green', TrialState.FAILED: 'red',
                TrialState.RUNNING: 'cyan', TrialState.WAITING: 'dim',
                TrialState.EARLY_STOPPED: 'yellow',
                TrialState.PAUSED: 'blue',
                TrialState.STOPPED: 'magenta'}


def flatten(params: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """``{'size': {'base': 8}}`` -> ``{'size.base': 8}``."""
    flat: Dict[str, Any] = {}
    for key, value in params.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def fmt(value: Any) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(',', ':'))
    return str(value)


def render_table(headers: Sequence[str], rows: List[Sequence[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    line = '  '.join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, '  '.join('-' * w for w in widths)]
    out += ['  '.join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return '\n'.join(out)


def rich_table(headers: Sequence[str], rows: List[Sequence[Any]],
               title: Optional[str] = None, state_column: Optional[int] = None,
               highlight_row: Optional[int] = None):
    """The same table as :func:`render_table`, as a ``rich.table.Table``;
    ``state_column`` cells are coloured by trial state and row
    ``highlight_row`` is shown in bold."""
    from rich.table import Table
    table = Table(title=title, title_justify='left', header_style='bold',
                  box=None, pad_edge=False)
    for header in headers:
        table.add_column(str(header), overflow='fold')
    for index, row in enumerate(rows):
        cells = [fmt(c) for c in row]
        if state_column is not None:
            state = cells[state_column]
            style = STATE_STYLES.get(state)
            if style:
                cells[state_column] = f'[{style}]{state}[/]'
        table.add_row(*cells, style='bold' if index == highlight_row
                      else None)
    return table


def _trial_rows(trials: List[Trial], reward_name: str):
    names: List[str] = []
    for trial in trials:
        for key in flatten(trial.params):
            if key not in names:
                names.append(key)
    rows = []
    for t in trials:
        flat = flatten(t.params)
        duration = f'{t.duration:.1f}s' if t.duration is not None else None
        rows.append([t.id, t.state, t.reward, duration]
                    + [flat.get(n) for n in names])
    return ['trial', 'state', reward_name, 'duration'] + names, rows


def trials_table(trials: List[Trial], reward_name: str = 'reward') -> str:
    return render_table(*_trial_rows(trials, reward_name))


def trials_rich_table(trials: List[Trial], reward_name: str = 'reward',
                      best: Optional[Trial] = None):
    """:func:`trials_table` as a rich table, the best trial in bold."""
    headers, rows = _trial_rows(trials, reward_name)
    highlight = None
    if best is not None:
        highlight = next((i for i, t in enumerate(trials)
                          if t.id == best.id), None)
    return rich_table(headers, rows, state_column=1, highlight_row=highlight)


def terminal_console(stream: Optional[TextIO] = None):
    """A rich console on ``stream`` (default stdout) when it is an
    interactive terminal, else None (then print plain text)."""
    from rich.console import Console
    console = Console(file=stream if stream is not None else sys.stdout)
    if console.is_terminal and not console.is_dumb_terminal:
        return console
    return None


def print_table(headers: Sequence[str], rows: List[Sequence[Any]],
                stream: Optional[TextIO] = None, **rich_options) -> None:
    """Print a table: rich in a terminal, plain text otherwise."""
    console = terminal_console(stream)
    if console is None:
        print(render_table(headers, rows),
              file=stream if stream is not None else sys.stdout)
    else:
        console.print(rich_table(headers, rows, **rich_options))


#: trials a table lists before it keeps to the best ones
SHOW_LIMIT = 20


def listed_trials(store, cfg, limit: Optional[int] = SHOW_LIMIT,
                  more: str = '--all lists every trial'):
    """The trials a table lists, and a note of what it left out (or None).

    Up to ``limit`` trials (None: no limit) every trial is listed; beyond,
    the best ``limit`` by the reward, then the running ones, and the note
    says how many are hidden and how to see them (``more``).
    """
    from ..store import TrialState
    total = store.count_trials()
    if limit is None or total <= limit:
        return store.trials(), None
    trials = store.best_trials(limit, cfg.optimize_mode)
    running = store.trials([TrialState.RUNNING])
    note = (f'listed: the {len(trials)} best by {cfg.reward_attribute}'
            + (f', then the {len(running)} running' if running else '')
            + f'; {total - len(trials) - len(running)} of the {total} '
            f'trials not listed ({more})')
    return trials + running, note
