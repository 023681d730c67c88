"""What search-run and search-ctl show while and after a task runs: plain
periodic status lines in a pipe, a live rich view and rich tables in a
terminal."""
import io
import os
import re
import select
import subprocess
import sys
import time

import pytest

from gml.search.controller import SearchStatus, StatusLines
from gml.search.store import Trial

from ..conftest import REPO
from .helpers import search, write_config, write_trial

ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r')


def _config(tmp_path, lrs=(0.1, ), steps=3, delay=0.05, parallel=1):
    trial = write_trial(tmp_path)
    command = f'{sys.executable} {trial} lr={{lr}} steps={steps} delay={delay}'
    return write_config(tmp_path, f'''
        task:
          template: "{command}"
          search_args:
            lr: {{type: Categorical, data: {list(lrs)}}}
        searcher: {{type: GridSearcher, reward_attribute: acc}}
        scheduler:
          type: local
          parallel_size: {parallel}
        ''')


def _status(**kwargs):
    base = dict(task='t', reward_name='acc', counts={'RUNNING': 1},
                best=None, tries_left=None, time_left=None, elapsed=3.0)
    base.update(kwargs)
    return SearchStatus(**base)


def test_status_lines_repeat_unchanged_every_period_and_on_change():
    out = io.StringIO()
    view = StatusLines(out, every=0.2, min_gap=10.0)
    view.status(_status())                       # the first line: at once
    view.status(_status())                       # unchanged: not yet
    view.status(_status(counts={'RUNNING': 2}))  # changed, within min_gap
    view.status(_status(counts={'COMPLETED': 1}), force=True)  # forced
    time.sleep(0.25)
    view.status(_status(counts={'COMPLETED': 1}))  # unchanged, period over
    lines = out.getvalue().splitlines()
    assert lines == [
        '[t] running 1 | waiting 0 | done 0 | failed 0 | early-stopped 0 '
        '| best - | elapsed 3s',
        '[t] running 0 | waiting 0 | done 1 | failed 0 | early-stopped 0 '
        '| best - | elapsed 3s',
        '[t] running 0 | waiting 0 | done 1 | failed 0 | early-stopped 0 '
        '| best - | elapsed 3s']


def test_piped_search_run_prints_periodic_status_lines(tmp_path):
    # one trial of about 2.5 s: nothing changes while it runs
    config = _config(tmp_path, steps=10, delay=0.25)
    run = search('search-run', str(config), '--status-every', '0.5',
                 cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    waiting = [line for line in run.stdout.splitlines() if line.startswith(
        '[search] running 1 | waiting 0 | done 0 | failed 0')]
    assert len(waiting) >= 3, run.stdout
    elapsed = [int(re.search(r'elapsed (\d+)s$', line).group(1))
               for line in waiting]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 1
    assert '[search] running 0 | waiting 0 | done 1 | failed 0' in run.stdout
    # the final table stays plain text in a pipe
    assert re.search(r'^trial\s+state\s+acc\s+duration\s+lr\s*$\n^-----',
                     run.stdout, re.M)
    log = (tmp_path / 'search_tasks/search/controller.log').read_text()
    assert len([line for line in log.splitlines()
                if line.startswith('[search] running 1')]) >= 3
    bad = search('search-run', str(config), '--name', 'x', '--status-every',
                 '0', cwd=tmp_path)
    assert bad.returncode == 2 and '--status-every' in bad.stderr


def test_render_status_lists_running_and_recent_trials():
    from rich.console import Console

    from gml.search.cli.live import render_status
    now = time.time()
    running = Trial(3, {'lr': 0.2, 'size': {'base': 8}}, 'RUNNING', None,
                    now - 70, now - 65, None, '1', 1, None)
    done = Trial(1, {'lr': 0.1, 'size': {'base': 4}}, 'COMPLETED', 99.5,
                 now - 90, now - 90, now - 80, '2', 1, None)
    failed = Trial(2, {'lr': 0.3, 'size': {'base': 4}}, 'FAILED', None,
                   now - 90, now - 90, now - 85, '3', 1, 'exit code 3')
    status = _status(counts={'RUNNING': 1, 'COMPLETED': 1, 'FAILED': 1},
                     best=(1, 99.5), tries_left=7, elapsed=95.0,
                     running=[(running, 42.0)],
                     recent=[(done, 99.5), (failed, None)])
    console = Console(file=io.StringIO(), width=120, force_terminal=True,
                      color_system=None)
    console.print(render_status(status, now=now))
    text = console.file.getvalue()
    assert 'search-run [t]  elapsed 1m35s' in text
    assert 'running 1 | waiting 0 | done 1 | failed 1 | early-stopped 0 | ' \
        'best 99.5 (trial 1) | tries left 7' in text
    rows = [line.split() for line in text.splitlines()]
    assert ['3', 'RUNNING', '42', '1m05s', 'lr=0.2', 'size.base=8'] in rows
    assert ['2', 'FAILED', '-', '5.0s', 'lr=0.3', 'size.base=4'] in rows
    assert ['1', 'COMPLETED', '99.5', '10.0s', 'lr=0.1', 'size.base=4'] \
        in rows


def _in_terminal(args, cwd, timeout=120):
    """Run ``args`` with a pseudo-terminal as stdin/stdout/stderr; return
    (exit status, output without terminal control codes)."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
    env = dict(os.environ, TERM='xterm-256color', COLUMNS='120')
    env.pop('NO_COLOR', None)
    proc = subprocess.Popen(args, cwd=cwd, stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(timeout=30)
    return code, ANSI.sub('', b''.join(chunks).decode(errors='replace'))


@pytest.mark.skipif(sys.platform == 'win32', reason='needs a pty')
def test_search_run_and_show_in_a_terminal(tmp_path):
    config = _config(tmp_path, lrs=(0.1, 0.3), steps=6, delay=0.2)
    code, out = _in_terminal([sys.executable,
                              os.path.join(REPO, 'bin', 'search-run'),
                              str(config)], tmp_path)
    assert code == 0, out[-3000:]
    assert 'search-run [search]' in out        # the live view
    assert "search-run: task 'search' DONE; best trial 1: acc = 100" in out
    # the final table is a rich one (no dashed rule under the header)
    assert re.search(r'trial\s+state\s+acc\s+duration\s+lr', out)
    assert not re.search(r'^-----  ', out, re.M)
    # the log keeps plain lines and the plain table
    log = (tmp_path / 'search_tasks/search/controller.log').read_text()
    assert '[search] running 0 | waiting 0 | done 1 | failed 1' in log
    assert re.search(r'^-----  ', log, re.M)
    code, show = _in_terminal([sys.executable,
                               os.path.join(REPO, 'bin', 'search-ctl'),
                               'show', '-t', 'search'], tmp_path)
    assert code == 0, show
    assert 'state:     DONE' in show and 'best: trial 1, acc = 100' in show
    rows = [line.split() for line in show.splitlines()]
    assert any(row[:3] == ['1', 'COMPLETED', '100'] for row in rows), show
    assert any(row[:2] == ['2', 'FAILED'] for row in rows), show
    assert not re.search(r'^-----  ', show, re.M)
