"""search-ctl: look at and steer search tasks.

Examples:
  search-ctl list
  search-ctl show -t gridsearch
  search-ctl log -t gridsearch -i 3          # one trial's output
  search-ctl log -t gridsearch               # the controller's output
  search-ctl stop -t gridsearch
  search-ctl plot -t gridsearch -o search.png
  search-ctl export -t gridsearch --format csv -o trials.csv
  search-ctl serve                           # live web view, 127.0.0.1:8090

Reads the task store read-only and never imports torch, so it answers at
once, also while the task runs.
"""
import argparse
import csv
import json
import os
import socket
import sys
import time

from ...errors import ConfigError
from ...utils.cli import run_cli
from ..store import TaskState, TrialState
from .tables import SHOW_LIMIT, listed_trials



def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='search-ctl', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', help='folder of the tasks (default '
                        'search_tasks)')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('list', help='every task with its state and best reward')
    for name, help_text in (('show', 'config summary, state and trials'),
                            ('stop', 'stop the task and its running trials'),
                            ('log', "a trial's log, or the controller's"),
                            ('plot', 'PNG of rewards and learning curves'),
                            ('export', 'trials as CSV or JSON')):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument('-t', '--task', required=True, help='task name')
        if name == 'show':
            cmd.add_argument('-n', '--limit', type=int, default=SHOW_LIMIT,
                             help='a task with more trials lists only its N '
                             f'best and the running ones (default '
                             f'{SHOW_LIMIT})')
            cmd.add_argument('--all', action='store_true',
                             help='list every trial')
        if name == 'log':
            cmd.add_argument('-i', '--trial', type=int, help='trial id')
            cmd.add_argument('-n', '--lines', type=int, default=0,
                             help='only the last N lines')
        if name == 'plot':
            cmd.add_argument('-o', '--output', help='PNG path (default '
                             '<task dir>/search.png)')
        if name == 'export':
            cmd.add_argument('--format', choices=['csv', 'json', 'tensorboard'],
                             default='csv',
                             help='tensorboard: one event folder per trial '
                             '(needs the tensorboard package)')
            cmd.add_argument('-o', '--output', help='file, or folder for '
                             'tensorboard (default: stdout)')
            cmd.add_argument('--metrics', action='store_true',
                             help='json: include every recorded metric')
    serve = sub.add_parser('serve', help='a live web view of the tasks '
                           '(docs/search_web_view.md)')
    serve.add_argument('-t', '--task', help='only this task (default: every '
                       'task of the root)')
    serve.add_argument('--port', type=_port, default=8090,
                       help='TCP port (default 8090; 0: any free port)')
    serve.add_argument('--host', default='127.0.0.1',
                       help='address to listen on (default 127.0.0.1: this '
                       'machine only)')
    serve.add_argument('--public', action='store_true',
                       help='allow a --host that is not loopback (the '
                       'network then sees the tasks, configs and logs)')
    serve.add_argument('--allow-stop', action='store_true',
                       help='show a stop button (with a confirmation) on '
                       'running tasks; off by default: the view is '
                       'read-only')
    return parser.parse_args(argv)


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected a port number, found {text!r}') from None


def open_task(name, root):
    from ..config import check_task_name, parse_config
    from ..store import TaskStore
    from ..task import TaskDir
    task = TaskDir(check_task_name(name), root)
    if not task.exists():
        raise ConfigError(f'-t: no task {name!r} in {task.root}/ '
                          '(see `search-ctl list`)')
    store = TaskStore(task.db, readonly=True)
    cfg = parse_config(store.meta()['config'])
    return task, store, cfg


def controller_alive(task, meta) -> bool:
    """True while a controller runs the task: it holds the task's lock, or
    (on another host, where the lock may not be visible) its heartbeat is
    fresh."""
    from ..task import heartbeat_fresh
    if task.is_locked():
        return True
    other_host = meta.get('controller_host') not in (None,
                                                     socket.gethostname())
    return other_host and heartbeat_fresh(meta)


def task_state(task, meta) -> str:
    if controller_alive(task, meta):
        return TaskState.RUNNING
    state = meta.get('state', 'UNKNOWN')
    return TaskState.INTERRUPTED if state == TaskState.RUNNING else state


def controller_line(task, meta) -> str:
    """Whether the task's controller is alive, where, and its heartbeat."""
    if 'controller_pid' not in meta:
        return 'not started'
    where = f"pid {meta['controller_pid']}"
    if meta.get('controller_host'):
        where += f" on {meta['controller_host']}"
    age = time.time() - meta.get('heartbeat', 0)
    beat = f'last heartbeat {age:.0f} s ago'
    if controller_alive(task, meta):
        return f'{where}, alive ({beat})'
    if meta.get('state') == TaskState.RUNNING:
        return (f'{where}, not running ({beat}); `search-run --resume '
                f'{task.name}` continues the task')
    return f'{where}, ended ({beat})'


def cmd_list(args) -> None:
    from ..task import list_tasks
    from .tables import print_table
    rows = []
    for name in list_tasks(args.root):
        task, store, cfg = open_task(name, args.root)
        meta = store.meta()
        best = next(iter(store.best_trials(1, cfg.optimize_mode)), None)
        created = time.strftime('%Y-%m-%d %H:%M',
                                time.localtime(meta.get('created', 0)))
        rows.append([name, task_state(task, meta), store.count_trials(),
                     best.reward if best else None,
                     best.id if best else None, created])
        store.close()
    if not rows:
        print('no tasks in', args.root or 'search_tasks')
        return
    print_table(['task', 'state', 'trials', 'best', 'best trial', 'created'],
                rows, state_column=1)


def cmd_show(args) -> None:
    from .tables import terminal_console, trials_rich_table, trials_table
    task, store, cfg = open_task(args.task, args.root)
    meta, counts = store.meta(), store.state_counts()
    total = sum(counts.values())
    stop = cfg.stop
    limits = ', '.join(f'{k}={getattr(stop, k)}' for k in
                       ('max_tries', 'time_limits', 'max_reward',
                        'time_limits_per_job') if getattr(stop, k) is not None)
    lines = [
        f'task:      {task.name} ({task.path})',
        f'state:     {task_state(task, meta)}'
        + (f" ({meta['stop_reason']})" if meta.get('stop_reason') else ''),
        f'controller: {controller_line(task, meta)}',
        f'template:  {cfg.template}',
        f'search:    {", ".join(cfg.search_args)}',
        f"searcher:  {cfg.searcher_cfg['type']} ({cfg.optimize_mode} "
        f'{cfg.reward_attribute}, {cfg.reward_reduce} value)',
        f"scheduler: {cfg.scheduler_type}, parallel_size {cfg.parallel_size}"
        + (f'; {limits}' if limits else ''),
        f"assessor:  {cfg.assessor_cfg['type'] if cfg.assessor_cfg else '-'}",
        f"elapsed:   {meta.get('elapsed', 0):.0f} s",
        f'trials:    {total}' + (' (' + ', '.join(
            f'{TrialState(state).name.lower().replace("_", "-")} {n}'
            for state, n in sorted(counts.items())) + ')' if total else ''),
        '']
    best = next(iter(store.best_trials(1, cfg.optimize_mode)), None)
    trials, note = listed_trials(store, cfg, None if args.all else args.limit)
    after = ['', note] if note else ['']
    after.append(f'best: trial {best.id}, {cfg.reward_attribute} = '
                 f'{best.reward:.4g}, params {json.dumps(best.params)}'
                 if best else 'best: no trial completed yet')
    failed = [t for t in store.trials([TrialState.FAILED], last=3)
              if t.message]
    for t in failed:
        first = t.message.splitlines()[0]
        after.append(f'trial {t.id} failed: {first}')
    console = terminal_console()
    if console is None:
        print('\n'.join(lines + [trials_table(trials, cfg.reward_attribute)]
                        + after))
    else:
        console.print('\n'.join(lines), highlight=False, markup=False)
        console.print(trials_rich_table(trials, cfg.reward_attribute, best))
        console.print('\n'.join(after), highlight=False, markup=False)
    store.close()


def cmd_stop(args) -> None:
    task, store, cfg = open_task(args.task, args.root)
    if task.is_locked():
        task.request_stop()
        deadline = time.monotonic() + 30
        while task.is_locked() and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f'task {task.name!r} stopped' if not task.is_locked() else
              f'task {task.name!r}: stop requested; the controller is still '
              'shutting down')
        return
    # no controller: stop the trials it left running
    from ..controller import build_components
    running = store.trials([TrialState.RUNNING])
    if running:
        scheduler = build_components(cfg, task.name)[2]
        for trial in running:
            if trial.job_id:
                scheduler.kill(trial.job_id)
        scheduler.shutdown()
    print(f'task {task.name!r} has no running controller; killed '
          f'{len(running)} trial process(es) it left (a later '
          '`search-run --resume` re-queues them)')


def cmd_log(args) -> None:
    task, store, _ = open_task(args.task, args.root)
    if args.trial is None:
        path = os.path.join(task.path, 'controller.log')
    else:
        if store.trial(args.trial) is None:
            raise ConfigError(f'-i: task {task.name!r} has no trial '
                              f'{args.trial}')
        path = os.path.join(task.trial_dir(args.trial), 'log.txt')
    if not os.path.isfile(path):
        raise ConfigError(f'no log at {path} (generate_log: false, or the '
                          'trial has not started)')
    with open(path, errors='replace') as f:
        text = f.read()
    if args.lines:
        text = '\n'.join(text.splitlines()[-args.lines:]) + '\n'
    sys.stdout.write(text)


def export_rows(store, cfg):
    from .tables import flatten
    rows = []
    for t in store.trials():
        row = dict(trial=t.id, state=t.state, reward=t.reward,
                   duration=t.duration, attempts=t.attempts)
        row.update({f'param.{k}': v for k, v in flatten(t.params).items()})
        rows.append(row)
    return rows


def export_tensorboard(task, store, cfg, folder: str) -> int:
    """Write every trial's metrics and hyper-parameters as TensorBoard runs."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError('--format tensorboard: needs the tensorboard '
                          'package (pip install tensorboard)') from None
    from .tables import flatten
    trials = store.trials()
    names = store.metric_names()
    for trial in trials:
        writer = SummaryWriter(os.path.join(folder, f'trial_{trial.id}'))
        for name in names:
            for step, value in store.metric_series(trial.id, name):
                writer.add_scalar(name, value, step)
        hparams = {k: v if isinstance(v, (int, float, str, bool)) else
                   json.dumps(v) for k, v in flatten(trial.params).items()}
        final = {f'hparam/{cfg.reward_attribute}': trial.reward
                 if trial.reward is not None else float('nan')}
        writer.add_hparams(hparams, final, run_name='.')
        writer.close()
    return len(trials)


def cmd_export(args) -> None:
    task, store, cfg = open_task(args.task, args.root)
    if args.format == 'tensorboard':
        if not args.output:
            raise ConfigError('--format tensorboard: give the folder with -o')
        count = export_tensorboard(task, store, cfg, args.output)
        print(f'wrote {count} trials to {args.output} '
              f'(tensorboard --logdir {args.output})')
        return
    rows = export_rows(store, cfg)
    out = open(args.output, 'w') if args.output else sys.stdout
    try:
        if args.format == 'json':
            head = dict(task=task.name, reward=cfg.reward_attribute,
                        mode=cfg.optimize_mode)
            if args.metrics:
                rows = with_metrics(store, rows)
            write_json(out, head, rows)
        else:
            columns = {}  # ordered set: the keys of every row
            for row in rows:
                columns.update(dict.fromkeys(row))
            writer = csv.DictWriter(out, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f'wrote {store.count_trials()} trials to {args.output}')


def with_metrics(store, rows):
    """``rows`` (by trial id), each with ``metrics``: every metric name of
    the task -> [[step, value], ...]. One pass over the metrics table."""
    names = store.metric_names()
    series = store.metrics_by_trial()
    trial_id, found = next(series, (None, {}))
    for row in rows:
        while trial_id is not None and trial_id < row['trial']:
            trial_id, found = next(series, (None, {}))
        mine = found if trial_id == row['trial'] else {}
        row['metrics'] = {name: mine.get(name, []) for name in names}
        yield row


def write_json(out, head, rows) -> None:
    """Write ``dict(head, trials=list(rows))`` as ``json.dump(..., indent=1)``
    does, a trial at a time (a task's metrics can be far larger than its
    trials)."""
    opening = json.dumps(head, indent=1)[:-2]  # without the closing '\n}'
    out.write(opening + ',\n "trials": [')
    count = 0
    for row in rows:
        out.write((',' if count else '') + '\n  '
                  + json.dumps(row, indent=1).replace('\n', '\n  '))
        count += 1
    out.write('\n ]\n}' if count else ']\n}')


def cmd_plot(args) -> None:
    from .plot import plot_task
    task, store, cfg = open_task(args.task, args.root)
    output = args.output or os.path.join(task.path, 'search.png')
    plot_task(store, cfg, output, title=task.name)
    print(f'wrote {output}')


def cmd_serve(args) -> None:
    from ..task import DEFAULT_ROOT
    from ..web.server import serve
    serve(args.root or DEFAULT_ROOT, args.host, args.port, args.task,
          args.public, args.allow_stop)


COMMANDS = dict(list=cmd_list, show=cmd_show, stop=cmd_stop, log=cmd_log,
                export=cmd_export, plot=cmd_plot, serve=cmd_serve)


def main(argv=None) -> int:
    args = parse_args(argv)
    COMMANDS[args.command](args)
    return 0


def entry() -> None:
    run_cli(main, 'search-ctl', uses_mmengine=False)


if __name__ == '__main__':
    entry()
