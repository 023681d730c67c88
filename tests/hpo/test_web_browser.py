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
    import sys, time
    sys.path.insert(0, {repo!r})
    from gml.search import report
    lr = float(sys.argv[1])
    slow = lr == 0.4  # the last trial: still running when the page opens
    for step in range(1, 7):
        time.sleep(1.0 if slow else 0.05)
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


@pytest.mark.slow
def test_a_running_search_in_headless_chromium(tmp_path):
    driver = browser_or_skip()
    root = tmp_path / 'search_tasks'
    root.mkdir()
    write_store(root, name='<script>', trials=3)  # its name must show as text
    (tmp_path / 'trial.py').write_text(TRIAL.format(repo=REPO))
    (tmp_path / 'search.yaml').write_text(textwrap.dedent(f'''
        task:
          template: "{sys.executable} trial.py {{lr}}"
          search_args:
            lr: {{type: Categorical, data: [0.1, 0.2, 0.3, 0.4]}}
        searcher: {{type: GridSearcher, reward_attribute: acc}}
        scheduler: {{type: local, parallel_size: 2}}
        '''))
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'),
         'search.yaml'], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
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

        # the task's page while trial 4 (6 s) still runs
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
        driver.quit()
        if server is not None:
            stop_serve(server)
        if controller.poll() is None:
            controller.terminate()
            controller.wait(30)
