"""search-run: start a search task, or resume one.

Examples:
  search-run configs/gridsearch/search_config.yaml
  search-run configs/hpo/random/search_config.yaml --name lr-random
  search-run --resume lr-random            # after a crash, kill -9 or stop
  search-run CONFIG --detach               # survives logging out
  search-ctl show -t lr-random
  search-run configs/hpo/random/search_config.yaml   # task "random"

The task lives in ./search_tasks/NAME (or --root, or $GML_SEARCH_ROOT).
In a terminal, a live view shows the trials running and ended and the best
so far; in a pipe or a log, a status line comes whenever a trial starts or
ends and at least every --status-every seconds. Either way the run ends
with the table of trials, and the status lines also go to the task's
controller.log.
"""
import argparse
import os
import shutil
import sys
import time
from typing import Optional, TextIO

from ...errors import ConfigError
from ...utils.cli import run_cli


class Tee:
    """Write progress to the terminal and to the task's controller.log."""

    def __init__(self, *streams: TextIO):
        self.streams = streams

    def write(self, text: str) -> None:
        for stream in self.streams:
            stream.write(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='search-run', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', help='search config (YAML)')
    parser.add_argument('--name', help='task name (default: the config '
                        "file's name without extension; for a generic name "
                        'such as search_config.yaml, its folder\'s name)')
    parser.add_argument('--resume', metavar='NAME',
                        help='continue the task NAME with its saved config')
    parser.add_argument('--root', help='folder of the tasks (default '
                        'search_tasks)')
    parser.add_argument('--detach', action='store_true',
                        help='run the controller in the background, '
                        'detached from this terminal and login session '
                        '(its output goes to the task\'s controller.log)')
    parser.add_argument('--poll-interval', type=float, default=0.05,
                        help='seconds between polls of running trials')
    parser.add_argument('--status-every', type=float, metavar='SECONDS',
                        default=30.0, help='a status line at least this '
                        'often, also when nothing changed (default 30)')
    args = parser.parse_args(argv)
    if (args.config is None) == (args.resume is None):
        parser.error('give a CONFIG to start a task, or --resume NAME')
    if args.status_every <= 0:
        parser.error('--status-every: expected a positive number of seconds')
    return args


def main(argv=None) -> int:
    from ..config import check_task_name, load_search_config
    from ..controller import Controller, StatusLines, build_components
    from ..task import TaskDir
    from .tables import terminal_console, trials_rich_table, trials_table
    args = parse_args(argv)
    if args.resume is not None:
        task = TaskDir(check_task_name(args.resume), args.root)
        if not task.exists():
            raise ConfigError(f'--resume: no task {args.resume!r} in '
                              f'{task.root}/ (see `search-ctl list`)')
        cfg = load_search_config(task.config_copy)
    else:
        cfg = load_search_config(args.config)
        task = TaskDir(check_task_name(args.name or
                                       default_task_name(args.config)),
                       args.root)
        if os.path.exists(task.path):
            raise ConfigError(task_clash(task, args.config))
    components = build_components(cfg, task.name)
    if args.resume is None:
        os.makedirs(task.path)
        shutil.copyfile(args.config, task.config_copy)
        with open(task.source_file, 'w') as f:
            f.write(os.path.abspath(args.config) + '\n')
    if args.detach:
        code = detach(task)
        if code is not None:  # the parent: the controller runs on
            return code
        components = build_components(cfg, task.name)  # the child's own
    console = terminal_console(sys.stdout)
    with open(os.path.join(task.path, 'controller.log'), 'a') as log:
        out = Tee(sys.stdout, log)
        print(f'search-run: task {task.name!r} in {task.path} '
              f'({"resumed" if args.resume else "new"})', file=out,
              flush=True)
        if console is None:
            view = StatusLines(out, every=args.status_every)
        else:
            from .live import LiveView
            view = LiveView(console, StatusLines(log, every=args.status_every))
        controller = Controller(task, cfg, components, out=out,
                                poll_interval=args.poll_interval, view=view)
        if console is None:
            state = controller.run(resume=args.resume is not None)
        else:
            with view:
                state = controller.run(resume=args.resume is not None)
        trials, note, best = controller_trials(task, cfg)
        table = trials_table(trials, cfg.reward_attribute)
        note = f'\n{note}' if note else ''
        if console is None:
            print('\n' + table + note, file=out)
        else:
            print('\n' + table + note, file=log)
            console.print()
            console.print(trials_rich_table(trials, cfg.reward_attribute,
                                            best))
            if note:
                console.print(note.strip(), highlight=False, markup=False)
        summary = f'\nsearch-run: task {task.name!r} {state}'
        if controller.stop_reason:
            summary += f' ({controller.stop_reason})'
        if best is not None:
            summary += (f'; best trial {best.id}: {cfg.reward_attribute} = '
                        f'{best.reward:.4g} with {best.params}')
        else:
            summary += '; no trial completed'
        print(summary, file=out, flush=True)
    return 0


DETACH_WAIT_SECONDS = 30.0


def detach(task) -> Optional[int]:
    """Fork the controller into its own session, away from the terminal.

    Returns None in the child (which goes on to run the task, its output
    in ``controller.out``) and, in the parent, the exit status once the
    child holds the task's lock (0) or has died trying (1, with its
    output).
    """
    out_path = os.path.join(task.path, 'controller.out')
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        return None
    deadline = time.monotonic() + DETACH_WAIT_SECONDS
    while time.monotonic() < deadline:
        ended, status = os.waitpid(pid, os.WNOHANG)
        if ended:
            with open(out_path, errors='replace') as f:
                sys.stderr.write(f.read())
            return 1 if os.waitstatus_to_exitcode(status) == 0 else \
                os.waitstatus_to_exitcode(status)
        if task.lock_owner() == pid and task.is_locked():
            print(f'search-run: task {task.name!r} runs in the background '
                  f'(controller pid {pid}); follow it with `search-ctl show '
                  f'-t {task.name}` or `search-ctl log -t {task.name}`, stop '
                  f'it with `search-ctl stop -t {task.name}`')
            return 0
        time.sleep(0.1)
    print(f'search-run: the background controller (pid {pid}) has not '
          f'started task {task.name!r} within {DETACH_WAIT_SECONDS:g} s; '
          f'see {out_path}', file=sys.stderr)
    return 1


#: config file names that say nothing of the search: such a task is named
#: after the config's folder (``configs/hpo/random/search_config.yaml`` ->
#: ``random``)
GENERIC_NAMES = ('search_config', )


def default_task_name(config: str) -> str:
    """The config file's name without extension, or its folder's name when
    the file name is a generic one (every shipped config is called
    ``search_config.yaml``)."""
    path = os.path.abspath(config)
    stem = os.path.splitext(os.path.basename(path))[0]
    folder = os.path.basename(os.path.dirname(path))
    return folder if stem in GENERIC_NAMES and folder else stem


def task_clash(task, config: str) -> str:
    """The one line for a new task whose name is taken."""
    try:
        with open(task.source_file) as f:
            source = f.read().strip()
    except OSError:
        source = ''
    if source == os.path.abspath(config):
        origin = 'from this config'
    else:
        origin = f'from {source}' if source else 'from another config'
    return (f'task {task.name!r} already exists in {task.path} ({origin}); '
            f'continue it with `search-run --resume {task.name}`, or start '
            'this config as a new task with --name NAME')


def controller_trials(task, cfg):
    """The trials the final table lists, the note of those it leaves out,
    and the best trial."""
    from ..store import TaskStore
    from .tables import listed_trials
    store = TaskStore(task.db, readonly=True)
    try:
        trials, note = listed_trials(
            store, cfg, more=f'`search-ctl show -t {task.name} --all` lists '
            'every trial')
        return trials, note, next(iter(store.best_trials(
            1, cfg.optimize_mode)), None)
    finally:
        store.close()


def entry() -> None:
    run_cli(main, 'search-run', uses_mmengine=False)


if __name__ == '__main__':
    entry()
