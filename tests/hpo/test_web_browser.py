"""search-ctl serve in a real browser, as a person uses it: a search runs,
the page is opened in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium), and a trial that ends while the
page is open shows up without a reload.

Without the browser the test is skipped with the reason; in CI (``CI``
set) it fails instead, since CI installs the browser (``.ci/run``).
"""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from gml.search.optimize_mode import OptimizeMode
from gml.search.store import TaskStore

from ..conftest import REPO
from .web_stores import (headless_chromium, missing_browser, start_serve,
                         stop_serve, write_store)

TRIAL = textwrap.dedent('''
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from gml.search import report
    lr = float(sys.argv[1])
    # the last trial runs until the test, having seen it run, creates
    # 'release' in the search's folder (at most 60 s)
    slow, start = lr == 0.4, time.time()
    for step in range(1, 7):
        time.sleep(0.05)
        while slow and step == 3 and not os.path.exists('release') \\
                and time.time() < start + 60:
            time.sleep(0.05)
        report(step=step, acc=100 * (1 - (lr - 0.2) ** 2) * step / 6)
''')


def browser_or_skip():
    """The headless browser, or skip (fail in CI, which must have it)."""
    missing = missing_browser()
    if missing:
        reason = ('no headless browser: missing ' + ', '.join(missing)
                  + ' (apt-get install -y chromium chromium-driver)')
        if os.environ.get('CI'):
            pytest.fail(reason + '; CI must run the browser test')
        pytest.skip(reason)
    return headless_chromium()


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # the page is being redrawn
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'{what} within {timeout} s')


@pytest.fixture(scope='module')
def browser():
    driver = browser_or_skip()
    yield driver
    driver.quit()


def start_search(tmp_path, trial_text, lrs, name='search', parallel=2):
    """``search-run`` on a grid over ``lrs`` of ``trial_text`` (formatted
    with the repo), in the background; returns the process."""
    (tmp_path / 'trial.py').write_text(trial_text.format(repo=REPO))
    (tmp_path / f'{name}.yaml').write_text(textwrap.dedent(f'''
        task:
          template: "{sys.executable} trial.py {{lr}}"
          search_args:
            lr: {{type: Categorical, data: {list(lrs)}}}
        searcher: {{type: GridSearcher, reward_attribute: acc}}
        scheduler: {{type: local, parallel_size: {parallel}}}
        '''))
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         f'{name}.yaml'], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def cells(driver, selector):
    return [e.text for e in driver.find_elements('css selector', selector)]


@pytest.mark.slow
def test_a_running_search_in_headless_chromium(tmp_path, browser):
    driver = browser
    root = tmp_path / 'search_tasks'
    root.mkdir()
    write_store(root, name='<script>', trials=3)  # its name must show as text
    controller = start_search(tmp_path, TRIAL, [0.1, 0.2, 0.3, 0.4])
    server = None
    try:
        store_path = root / 'search' / 'task.db'
        wait_until(lambda: store_path.exists(), 30, 'the task started')
        server, url = start_serve(root)

        # the task list: both tasks, the odd name as plain text
        driver.get(url)
        names = wait_until(lambda: [e.text for e in driver.find_elements(
            'css selector', '#task-list a.task-link')], 20, 'the task list')
        assert names == ['<script>', 'search']
        assert not driver.find_elements('css selector', '#task-list script')

        # the task's page while trial 4 still runs
        driver.find_element('link text', 'search').click()
        driver.execute_script('window.gmlMarker = 42')  # gone on a reload
        wait_until(lambda: driver.find_elements(
            'css selector', "#trials tbody tr[data-id='4'] td.state"),
            30, 'trial 4 in the table')
        state = driver.find_element(
            'css selector', "#trials tbody tr[data-id='4'] td.state").text
        assert state in ('WAITING', 'RUNNING'), state
        curve = wait_until(lambda: driver.find_element(
            'css selector', '#curves path.curve').get_attribute('d'), 20,
            'a learning curve drawn')
        assert curve.startswith('M') and curve.count('L') >= 5

        # trial 4 ends: the row changes with no reload
        (tmp_path / 'release').touch()
        wait_until(lambda: driver.find_element(
            'css selector', "#trials tbody tr[data-id='4'] td.state").text
            == 'COMPLETED', 40, 'trial 4 shown COMPLETED without a reload')
        assert driver.execute_script('return window.gmlMarker') == 42
        assert controller.wait(30) == 0, controller.stderr.read()

        store = TaskStore(str(store_path), readonly=True)
        best = store.best_trials(1, OptimizeMode.MAXIMIZE)[0]
        count = store.count_trials()
        store.close()
        wait_until(lambda: driver.find_element(
            'id', 'task-state').text == 'DONE', 20, 'the task shown DONE')
        rows = driver.find_elements('css selector', '#trials tbody tr')
        assert len(rows) == count == 4
        shown = float(driver.find_element('id', 'best-reward').text)
        assert shown == pytest.approx(best.reward, rel=1e-3)
        assert driver.find_elements('css selector', '#parallel path.pc')
        assert driver.find_elements('css selector', '#best-chart circle')

        # a click on a row shows the trial's metrics
        rows[0].click()
        wait_until(lambda: driver.find_element('id', 'trial-detail')
                   .is_displayed(), 10, 'the trial panel')
        assert 'trial 1' in driver.find_element('id', 'trial-detail').text
        driver.save_screenshot(str(tmp_path / 'search_web_view.png'))
        assert (tmp_path / 'search_web_view.png').stat().st_size > 10_000
        errors = [e for e in driver.get_log('browser')
                  if e['level'] == 'SEVERE']
        assert not errors, errors
    finally:
        if server is not None:
            stop_serve(server)
        if controller.poll() is None:
            controller.terminate()
            controller.wait(30)


@pytest.mark.slow
def test_sort_filter_trial_and_views_of_a_finished_task(tmp_path, browser):
    """A finished task (40 trials: failed, early-stopped, paused ones):
    what the page shows equals the store."""
    driver = browser
    root = tmp_path / 'search_tasks'
    db = write_store(root, trials=40)
    store = TaskStore(db, readonly=True)
    best = store.best_trials(1, OptimizeMode.MAXIMIZE)[0]
    failed = [t.id for t in store.trials(['FAILED'])]
    store.close()
    server, url = start_serve(root)
    try:
        driver.get(url + '#task=synthetic')
        wait_until(lambda: len(cells(driver, '#trials tbody tr')) == 40, 20,
                   'the 40 trials')
        # two clicks on the reward's header: best first, then worst first
        header = driver.find_element('css selector', "#trials th[data-key="
                                     "'reward']")
        header.click()
        first = driver.find_element('css selector', '#trials tbody tr')
        assert first.get_attribute('data-id') == str(best.id)
        assert 'best' in first.get_attribute('class')
        header.click()
        rewards = [float(text) for text in cells(
            driver, '#trials tbody tr td:nth-child(3)') if text != '–']
        assert rewards == sorted(rewards)

        # the state filter
        from selenium.webdriver.support.ui import Select
        Select(driver.find_element('id', 'state-filter')) \
            .select_by_value('FAILED')
        assert [int(e.get_attribute('data-id')) for e in driver
                .find_elements('css selector', '#trials tbody tr')] == \
            sorted(failed)
        assert set(cells(driver, '#trials tbody td.state')) == {'FAILED'}

        # a failed trial: its message and the tail of its log
        driver.find_element('css selector', '#trials tbody tr').click()
        wait_until(lambda: driver.find_element('id', 'log-tail').text
                   .endswith('line 299'), 10, "the trial's log")
        assert 'diverged' in driver.find_element('id', 'trial-detail').text

        # the assessor's decisions on the curves: 4 stopped, 4 paused
        stopped = driver.find_element('css selector', '#curves path.mark-'
                                      'stopped').get_attribute('d')
        paused = driver.find_element('css selector', '#curves path.mark-'
                                     'paused').get_attribute('d')
        assert stopped.count('M') == 2 * 4 and paused.count('Z') == 4
        # importance: x, which sets the reward, on top
        wait_until(lambda: driver.find_elements(
            'css selector', '#importance rect'), 20, 'the importance chart')
        labels = cells(driver, '#importance text')
        assert labels[1] == 'x', labels
        assert len(driver.find_elements('css selector',
                                        '#param-charts svg')) == 3
    finally:
        stop_serve(server)


SLOW_TRIAL = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, {repo!r})
    from gml.search import report
    for step in range(1, 600):
        report(step=step, acc=float(step))
        time.sleep(0.1)
''')


@pytest.mark.slow
def test_the_stop_button_stops_the_search(tmp_path, browser):
    """Off by default; with --allow-stop, the button asks first, then the
    controller stops the task and the page shows it STOPPED."""
    driver = browser
    root = tmp_path / 'search_tasks'
    controller = start_search(tmp_path, SLOW_TRIAL, [0.1, 0.2], 'long')
    servers = []
    try:
        wait_until(lambda: (root / 'long' / 'trials' / '1' /
                            'metrics.jsonl').exists(), 30, 'trial 1 ran')
        read_only, url = start_serve(root)
        servers.append(read_only)
        driver.get(url + '#task=long')
        wait_until(lambda: driver.find_element('id', 'task-state').text
                   == 'RUNNING', 20, 'the running task')
        assert not driver.find_elements('id', 'stop')  # off by default
        allowed, url = start_serve(root, '--allow-stop')
        servers.append(allowed)
        driver.get(url + '#task=long')
        button = wait_until(lambda: driver.find_element('id', 'stop'), 20,
                            'the stop button')
        button.click()
        driver.switch_to.alert.dismiss()  # "Stop task ...?" - no
        time.sleep(0.5)
        assert controller.poll() is None
        assert not (root / 'long' / 'STOP').exists()
        driver.find_element('id', 'stop').click()
        driver.switch_to.alert.accept()
        message = wait_until(lambda: driver.switch_to.alert, 10,
                             'the answer')
        assert 'stop requested' in message.text
        message.accept()
        assert controller.wait(60) == 0, controller.stderr.read()
        wait_until(lambda: driver.find_element('id', 'task-state').text
                   == 'STOPPED', 20, 'the task shown STOPPED')
        assert not driver.find_elements('id', 'stop')
    finally:
        for server in servers:
            stop_serve(server)
        if controller.poll() is None:
            controller.terminate()
            controller.wait(30)
