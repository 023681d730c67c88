"""search-ctl serve: what its JSON answers hold (checked against the store),
reading beside a writing controller, and its guards (paths, names, hosts,
stop, command-line mistakes)."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from gml.search.optimize_mode import OptimizeMode
from gml.search.store import TaskStore
from gml.search.web.server import make_server

from ..conftest import REPO
from .web_stores import (start_serve, stop_serve, write_old_store,
                         write_store)


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / 'search_tasks'
    folder.mkdir()
    return folder


class Served:
    """A ViewServer on a free port in a thread, with raw HTTP requests."""

    def __init__(self, root, **options):
        self.server = make_server(str(root), port=0, **options)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs=dict(poll_interval=0.05),
                                       daemon=True)
        self.thread.start()

    def request(self, path, method='GET', headers=None):
        """(status, headers, body bytes); the path is sent as it is."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=20)
        try:
            conn.putrequest(method, path, skip_host=True,
                            skip_accept_encoding=True)
            headers = dict({'Host': f'127.0.0.1:{self.port}'},
                           **(headers or {}))
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), \
                response.read()
        finally:
            conn.close()

    def json(self, path, status=200):
        code, _, body = self.request(path)
        assert code == status, body
        return json.loads(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(root):
    servers = []

    def start(**options):
        servers.append(Served(root, **options))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def test_answers_hold_what_the_store_holds(root, served):
    db = write_store(root, trials=40)
    web = served()
    store = TaskStore(db, readonly=True)
    best = store.best_trials(1, OptimizeMode.MAXIMIZE)[0]
    counts = store.state_counts()

    tasks = web.json('/api/tasks')['tasks']
    assert [t['name'] for t in tasks] == ['synthetic']
    row = tasks[0]
    assert (row['best'], row['best_trial']) == (best.reward, best.id)
    assert row['total'] == 40 and row['failed'] == counts['FAILED'] == 4
    assert row['done'] == 36 and row['running'] == 0
    assert row['state'] == 'DONE'

    detail = web.json('/api/task?name=synthetic')
    assert [t['id'] for t in detail['trials']] == \
        [t.id for t in store.trials()]
    for mine, theirs in zip(detail['trials'], store.trials()):
        assert mine['state'] == theirs.state
        assert mine['reward'] == theirs.reward
        assert mine['params'] == theirs.params
    assert detail['params'] == ['x', 'noise', 'opt']
    curves = detail['curves']['acc']
    points = sum(len(steps) for steps, _ in curves.values())
    assert points == store.db.execute(
        'SELECT COUNT(*) FROM metrics').fetchone()[0]
    assert curves['1'][0] == list(range(1, 11))
    assert curves['1'][1][-1] == pytest.approx(store.trial(1).reward,
                                               rel=1e-5)
    decisions = {t['id']: t['decision'] for t in detail['trials']
                 if t['decision']}
    assert decisions[7] == {'kind': 'stopped', 'step': 5}
    assert decisions[9] == {'kind': 'paused', 'step': 5}
    assert 'search-run --resume synthetic' in detail['commands']['resume']

    trial = web.json('/api/trial?task=synthetic&id=4')
    assert trial['state'] == 'FAILED' and trial['message'].endswith(
        'diverged')
    assert trial['log_tail'].splitlines()[-1] == 'line 299'
    assert len(trial['log_tail'].splitlines()) == 200
    assert trial['metrics']['acc'] == [
        [s, v] for s, v in store.metric_series(4, 'acc')]
    store.close()


def test_importance_ranks_the_parameter_that_sets_the_reward_first(
        root, served):
    write_store(root, trials=60)
    answer = served().json('/api/importance?task=synthetic')
    ranks = {p['name']: p['importance'] for p in answer['params']}
    assert answer['params'][0]['name'] == 'x'
    assert ranks['x'] > 0.8 > ranks['noise'] + ranks['opt']
    assert answer['trials'] == 42  # the COMPLETED ones (7 in 10)


def test_importance_is_not_refitted_for_every_new_trial(root, served):
    db = write_store(root, trials=20)
    web = served()
    assert web.json('/api/importance?task=synthetic')['trials'] == 14

    def complete(count):
        writer = TaskStore(db)
        for _ in range(count):
            trial = writer.add_trial({'x': 0.3, 'noise': 1.0, 'opt': 'sgd'})
            writer.update_trial(trial, state='COMPLETED', reward=100.0)
        writer.close()
    complete(1)  # 15 < 1.2 x 14: the answer computed before
    assert web.json('/api/importance?task=synthetic')['trials'] == 14
    complete(2)  # 17 >= 1.2 x 14: computed again
    assert web.json('/api/importance?task=synthetic')['trials'] == 17


def test_unchanged_and_new_metric_rows_only(root, served):
    db = write_store(root, trials=5, steps=4)
    web = served()
    first = web.json('/api/task?name=synthetic')
    stamp, last = first['stamp'], first['last_metric_row']
    again = web.json(f'/api/task?name=synthetic&stamp={stamp}&after={last}')
    assert again['unchanged'] and 'trials' not in again

    writer = TaskStore(db)
    new = writer.add_trial({'x': 0.3, 'noise': 1.0, 'opt': 'sgd'})
    writer.add_metrics(new, [('acc', 1, 50.0), ('acc', 2, 99.0)])
    writer.add_metrics(2, [('acc', 4, 1.5)])  # a step written again
    writer.close()
    update = web.json(f'/api/task?name=synthetic&stamp={stamp}&after={last}')
    assert not update['unchanged'] and update['curves_from'] == last
    assert update['curves'] == {'acc': {'2': [[4], [1.5]],
                                        str(new): [[1, 2], [50.0, 99.0]]}}
    assert [t['state'] for t in update['trials']][-1] == 'WAITING'
    # a row number past the store's (a store made anew) sends everything
    fresh = web.json('/api/task?name=synthetic&after=999999')
    assert fresh['curves_from'] == 0 and len(fresh['curves']['acc']) == 6


def test_a_store_from_an_earlier_version(root, served):
    write_old_store(root)
    web = served()
    row, = web.json('/api/tasks')['tasks']
    assert (row['best'], row['best_trial'], row['mode']) == \
        (0.2, 2, 'minimize')
    detail = web.json('/api/task?name=old')
    assert [(t['attempts'], t['message']) for t in detail['trials']] == \
        [(0, None)] * 3
    assert web.json('/api/trial?task=old&id=1')['log_tail'] is None
    assert web.json('/api/importance?task=old')['note'].startswith('needs')
    assert not os.path.exists(root / 'old' / 'task.db-wal')  # read only


def test_reading_never_holds_up_a_writing_controller(root, served):
    """A writer commits trials and metrics as fast as it can while the
    server is asked for the whole task over and over: no commit waits on
    a reader, and a full checkpoint succeeds right after."""
    db = write_store(root, trials=200, steps=20)
    web = served()
    stop, answers = threading.Event(), []

    def read():
        while not stop.is_set():
            status, _, _ = web.request('/api/task?name=synthetic')
            answers.append(status)
    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    writer = TaskStore(db)
    writer.db.execute('PRAGMA busy_timeout = 0')  # fail, never wait
    slowest, commits, deadline = 0.0, 0, time.monotonic() + 3
    while time.monotonic() < deadline:
        begin = time.perf_counter()
        trial = writer.add_trial({'x': 0.5, 'noise': 1.0, 'opt': 'sgd'})
        writer.add_metrics(trial, [('acc', s, 1.0 * s) for s in range(50)])
        writer.update_trial(trial, state='COMPLETED', reward=49.0)
        slowest = max(slowest, time.perf_counter() - begin)
        commits += 3
    stop.set()
    for thread in readers:
        thread.join()
    busy, _, _ = writer.db.execute(
        'PRAGMA wal_checkpoint(TRUNCATE)').fetchone()
    writer.close()
    assert len(answers) >= 4 and set(answers) == {200}
    assert commits > 30 and slowest < 0.5
    assert busy == 0


def test_no_request_reaches_a_file_outside_the_task_root(tmp_path, root,
                                                         served):
    write_store(root, trials=3)
    secret = tmp_path / 'secret.txt'
    secret.write_text('SECRET-42\n')
    (root / 'notes.txt').write_text('SECRET-42\n')
    log = root / 'synthetic' / 'trials' / '2' / 'log.txt'
    log.unlink()
    log.symlink_to(secret)  # a link out of the task's folder
    web = served()
    attempts = [
        '/../secret.txt', '/../../../../etc/passwd',
        '/static/../../secret.txt', '/static/%2e%2e/%2e%2e/secret.txt',
        '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/static/..%2f..%2fsecret.txt',
        '//etc/passwd', str(secret), '/static/' + str(secret),
        '/notes.txt', '/synthetic/task.db', '/static/../app.js',
        '/api/task?name=..', '/api/task?name=%2e%2e',
        '/api/task?name=../synthetic', '/api/task?name=synthetic/..',
        '/api/task?name=' + str(root / 'synthetic'),
        '/api/trial?task=synthetic&id=../../secret',
        '/api/trial?task=..&id=1', '/api/importance?task=/etc',
    ]
    for path in attempts:
        status, _, body = web.request(path)
        assert status in (400, 403, 404), (path, status)
        assert b'SECRET' not in body and b'root:' not in body, path
    status, _, body = web.request('/api/trial?task=synthetic&id=2')
    assert status == 200 and json.loads(body)['log_tail'] is None
    assert b'SECRET' not in body


def test_names_reach_the_page_as_text_only(root, served):
    write_store(root, name='<script>', trials=3)
    store = TaskStore(str(root / '<script>' / 'task.db'))
    store.add_trial({'x': '</script><img src=x onerror=alert(1)>'})
    store.close()
    web = served()
    status, headers, page = web.request('/')
    assert status == 200 and b'<script>' not in page.replace(
        b'<script src="/static/', b'')
    assert "script-src 'self'" in headers['Content-Security-Policy']
    assert headers['X-Content-Type-Options'] == 'nosniff'
    for path in ('/api/tasks', '/api/task?name=%3Cscript%3E'):
        status, headers, body = web.request(path)
        assert status == 200 and headers['Content-Type'] == \
            'application/json'
        assert b'<' not in body and b'>' not in body
        assert '<script>' in body.decode('unicode_escape')


def test_only_loopback_host_names_are_answered(root, served):
    write_store(root, trials=2)
    web = served()
    for host in ('evil.example', 'evil.example:80', '127.0.0.1.evil.com'):
        status, _, _ = web.request('/api/tasks', headers={'Host': host})
        assert status == 403, host
    for host in ('localhost', f'localhost:{web.port}', '[::1]:80'):
        status, _, _ = web.request('/api/tasks', headers={'Host': host})
        assert status == 200, host


def test_stop_is_off_unless_allowed_and_needs_the_confirmation(
        root, served):
    write_store(root, trials=2, state='RUNNING')  # heartbeat fresh
    stop_file = root / 'synthetic' / 'STOP'
    read_only = served()
    status, _, _ = read_only.request('/api/stop?task=synthetic', 'POST',
                                     {'X-GML-Confirm': 'stop'})
    assert status == 403 and not stop_file.exists()
    assert read_only.json('/api/tasks')['allow_stop'] is False

    web = served(allow_stop=True)
    status, _, _ = web.request('/api/stop?task=synthetic', 'POST')
    assert status == 400 and not stop_file.exists()
    status, _, _ = web.request('/api/stop?task=synthetic', 'GET',
                               {'X-GML-Confirm': 'stop'})
    assert status == 404 and not stop_file.exists()
    status, _, body = web.request('/api/stop?task=synthetic', 'POST',
                                  {'X-GML-Confirm': 'stop'})
    assert status == 200 and stop_file.exists(), body


def ctl(*args, cwd):
    return subprocess.run([sys.executable, os.path.join(REPO, 'bin',
                                                        'search-ctl'), *args],
                          cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_user_mistakes_give_one_line_and_exit_2(tmp_path, root):
    write_store(root, trials=2)
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = [
            (['serve', '--port', port], f'--port {port}: already in use'),
            (['serve', '--port', '70000'], '--port: expected 0..65535'),
            (['serve', '--port', 'http'], "expected a port number"),
            (['serve', '-t', 'nosuch'], "-t: no task 'nosuch'"),
            (['serve', '--host', '0.0.0.0'], 'needs --public'),
            (['serve', '--host', 'no.such.host.invalid', '--public',
              '--port', '0'], 'unknown address'),
        ]
        for args, message in cases:
            run = ctl('--root', str(root), *args, cwd=tmp_path)
            assert run.returncode == 2, (args, run.stderr)
            assert message in run.stderr, (args, run.stderr)
            assert 'Traceback' not in run.stderr
            assert len(run.stderr.strip().splitlines()) <= 3, run.stderr
    run = ctl('--root', str(tmp_path / 'none'), 'serve', cwd=tmp_path)
    assert run.returncode == 2 and '--root: no folder' in run.stderr


def test_serving_the_network_warns(root):
    write_store(root, trials=2)
    process, url = start_serve(root, '--host', '0.0.0.0', '--public')
    try:
        assert url.startswith('http://0.0.0.0:')
    finally:
        stop_serve(process)
    warning = process.stderr.read()
    assert 'warning: serving on 0.0.0.0, reachable from the network' in \
        warning


def test_one_task_only(root):
    write_store(root, name='a', trials=2)
    write_store(root, name='b', trials=2)
    process, url = start_serve(root, '-t', 'b')
    try:
        import urllib.request
        import urllib.error
        with urllib.request.urlopen(url + 'api/tasks') as response:
            names = [t['name'] for t in json.load(response)['tasks']]
        assert names == ['b']
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(url + 'api/task?name=a')
        assert error.value.code == 404
    finally:
        stop_serve(process)
