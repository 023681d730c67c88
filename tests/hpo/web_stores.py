"""Task stores written directly (as a controller writes them) for the web
view's tests and benchmark, a ``search-ctl serve`` runner and the headless
browser."""
import json
import os
import random
import sqlite3
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'

CONFIG = {'task': {'template': 'python train.py {x} {noise} {opt}',
                   'search_args': {}},
          'searcher': {'type': 'RandomSearcher', 'reward_attribute': 'acc',
                       'optimize_mode': 'maximize'},
          'scheduler': {'type': 'local', 'parallel_size': 4}}


def reward_of(params):
    """The synthetic task's reward: set by ``x`` alone (``noise`` and
    ``opt`` do not matter)."""
    return 100 * (1 - (params['x'] - 0.3) ** 2)


def write_store(root, name='synthetic', trials=40, steps=10, seed=0,
                state='DONE'):
    """A finished random search of ``trials`` trials with ``steps`` steps
    each (a few failed, early-stopped and paused ones); returns the path
    of its store."""
    from gml.search.store import TaskStore
    folder = os.path.join(str(root), name)
    os.makedirs(folder, exist_ok=True)
    store = TaskStore(os.path.join(folder, 'task.db'))
    rng = random.Random(seed)
    start = time.time() - 100
    store.set_meta(name=name, config=CONFIG, created=start, elapsed=90.0,
                   state=state, heartbeat=time.time())
    for index in range(trials):
        params = {'x': rng.random(), 'noise': 10 ** rng.uniform(-3, 1),
                  'opt': rng.choice(['sgd', 'adam'])}
        trial_id = store.add_trial(params)
        final, state_of, message, last = reward_of(params), 'COMPLETED', \
            None, steps
        if index % 10 == 3:
            state_of, message = 'FAILED', 'exit code 3\ndiverged'
        elif index % 10 == 6:
            last = steps // 2
            state_of = 'EARLY_STOPPED'
            message = f'stopped by MedianStopAssessor after {last} steps'
        elif index % 10 == 8:
            last = steps // 2
            state_of = 'PAUSED'
            message = f'paused by HyperbandAssessor at rung 1 (after {last} ' \
                'steps); promoted if it ranks among the best there'
        curve = [(s, final * s / steps) for s in range(1, last + 1)]
        store.add_metrics(trial_id, [('acc', s, v) for s, v in curve])
        reward = None if state_of == 'FAILED' else curve[-1][1]
        store.update_trial(trial_id, state=state_of, reward=reward,
                           started=start + index, ended=start + index + 1,
                           attempts=1, message=message)
        trial_dir = os.path.join(folder, 'trials', str(trial_id))
        os.makedirs(trial_dir, exist_ok=True)
        with open(os.path.join(trial_dir, 'log.txt'), 'w') as f:
            f.write(''.join(f'line {i}\n' for i in range(300)))
    store.close()
    return os.path.join(folder, 'task.db')


def write_old_store(root, name='old'):
    """A store as a much earlier gml wrote it: no ``attempts``,
    ``message`` nor ``paused_reward`` column, no heartbeat."""
    folder = os.path.join(str(root), name)
    os.makedirs(folder, exist_ok=True)
    db = sqlite3.connect(os.path.join(folder, 'task.db'))
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE trials (id INTEGER PRIMARY KEY, params TEXT NOT NULL,
            state TEXT NOT NULL, reward REAL, created REAL NOT NULL,
            started REAL, ended REAL, job_id TEXT);
        CREATE TABLE metrics (trial_id INTEGER NOT NULL, name TEXT NOT NULL,
            step INTEGER NOT NULL, value REAL,
            PRIMARY KEY (trial_id, name, step));""")
    db.executemany('INSERT INTO meta VALUES (?, ?)', [
        ('config', json.dumps(dict(CONFIG, searcher={
            'type': 'GridSearcher', 'reward_attribute': 'loss',
            'optimize_mode': 'min'}))), ('state', json.dumps('DONE'))])
    for i, loss in enumerate([0.5, 0.2, 0.9], start=1):
        db.execute('INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                   (i, json.dumps({'lr': 0.1 * i}), 'COMPLETED', loss,
                    100.0 + i, 100.0 + i, 101.0 + i, None))
        db.execute('INSERT INTO metrics VALUES (?, ?, ?, ?)',
                   (i, 'loss', 1, loss))
    db.commit()
    db.close()


def start_serve(root, *options, cwd=None):
    """``search-ctl serve --port 0`` on ``root`` as a subprocess; returns
    (the process, its URL) once it listens."""
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-ctl'), '--root',
         str(root), 'serve', '--port', '0', *options], cwd=cwd or str(root),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if ' at http://' not in line:
        process.kill()
        raise AssertionError('search-ctl serve did not start: ' + line
                             + process.stderr.read())
    return process, line.split(' at ')[1].split()[0]


def stop_serve(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def missing_browser():
    """What the headless browser lacks here (empty: nothing)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER)
               if not os.path.exists(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append('the selenium package (pip install -e ".[tests]")')
    return missing


def headless_chromium(width=1300, height=1800):
    """Selenium driving Debian's chromium, headless (no browser download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', f'--window-size={width},{height}'):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
