"""search-ctl serve: how fast the page shows a large task, and what serving
costs a running search.

Usage: python benchmarks/serve_page.py [--trials 1000] [--steps 100]
       [--loads 3] [--overhead-trials 120] [--parallel 8]
       [--seconds 1] [--repeats 2]

1. Page: writes a finished task of N trials x S steps, starts
   `search-ctl serve` on it and opens the task's page in headless Chromium
   (Debian's chromium through Selenium) `--loads` times: the time from the
   start of navigation until the table, the curves, the parameter views and
   the parallel coordinates are drawn and painted (median), and until the
   importance chart is (already computed by then: its first computation is
   api_importance_first_s); plus the server's answer times (whole task;
   a poll with nothing new; importance, computed once and then cached).
2. Overhead: runs the controller benchmark's search (hpo_controller.py:
   trials that sleep, P at a time) in turn alone, with `search-ctl serve`
   and the page open on it in the browser (polling every 2 s, redrawn on
   every change), and with the server and a plain HTTP client polling as
   the page does (the server's own cost, without the browser's),
   `--repeats` times each; the ratio is wall time / ideal time, as in
   hpo_controller.py; added_pct_*: how much larger the ratio is.

Prints one JSON line. Needs chromium and chromium-driver (apt) and selenium.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)
from _machine import machine  # noqa: E402
from hpo_controller import CONFIG as OVERHEAD_CONFIG  # noqa: E402
from tests.hpo.web_stores import (headless_chromium, start_serve,  # noqa: E402
                                  stop_serve, write_store)


def fetch_seconds(url: str, repeats: int = 5):
    """Median seconds to fetch ``url`` and its size in bytes."""
    times, size = [], 0
    for _ in range(repeats):
        begin = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            size = len(response.read())
        times.append(time.perf_counter() - begin)
    return statistics.median(times), size


def wait_for(driver, script: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value is not None:
            return value
        time.sleep(0.02)
    raise SystemExit(f'the page did not answer {script!r} in {timeout} s')


def page_figures(args, tmp: str) -> dict:
    root = os.path.join(tmp, 'page_tasks')
    begin = time.perf_counter()
    write_store(root, name='big', trials=args.trials, steps=args.steps)
    written = time.perf_counter() - begin
    server, url = start_serve(root)
    driver = headless_chromium()
    try:
        task_url = url + 'api/task?name=big'
        first = time.perf_counter()
        urllib.request.urlopen(url + 'api/importance?task=big').read()
        importance_first = time.perf_counter() - first
        importance_cached, _ = fetch_seconds(url + 'api/importance?task=big')
        full, size = fetch_seconds(task_url)
        with urllib.request.urlopen(task_url) as response:
            stamp = json.load(response)['stamp']
        poll, _ = fetch_seconds(task_url + '&stamp='
                                + urllib.parse.quote(stamp))
        shown, importance_shown = [], []
        for _ in range(args.loads):
            driver.get('about:blank')
            driver.get(url + '#task=big')
            shown.append(wait_for(driver, 'return window.gmlFirstPaint'))
            importance_shown.append(wait_for(
                driver, 'return window.gmlImportanceShown'))
            rows = driver.execute_script(
                "return document.querySelectorAll('#trials tbody tr').length")
            assert rows == args.trials, rows
    finally:
        driver.quit()
        stop_serve(server)
    return dict(trials=args.trials, steps=args.steps,
                store_written_s=round(written, 1),
                page_shown_s=round(statistics.median(shown) / 1000, 3),
                page_shown_all_s=[round(v / 1000, 3) for v in shown],
                importance_shown_s=round(
                    statistics.median(importance_shown) / 1000, 3),
                api_task_s=round(full, 3), api_task_bytes=size,
                api_poll_unchanged_s=round(poll, 4),
                api_importance_first_s=round(importance_first, 3),
                api_importance_cached_s=round(importance_cached, 4))


class Poller:
    """Asks for the task as the page does (every 2 s, with the stamp and
    the last metric row it has), without a browser."""

    def __init__(self, url: str, name: str):
        import threading
        self.url, self.name = url, name
        self.stop = threading.Event()
        self.answers = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        stamp, after = None, 0
        while not self.stop.wait(2.0):
            query = f'api/task?name={self.name}&after={after}'
            if stamp is not None:
                query += '&stamp=' + urllib.parse.quote(stamp)
            try:
                with urllib.request.urlopen(self.url + query) as response:
                    answer = json.load(response)
            except OSError:  # the task is not there yet
                continue
            stamp = answer['stamp']
            after = answer.get('last_metric_row', after)
            self.answers += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def overhead_run(args, tmp: str, watcher: str) -> float:
    """Wall seconds of one controller run; ``watcher``: ``alone``, or
    served and followed by the page in the ``browser`` or by a ``poller``
    throughout."""
    folder = tempfile.mkdtemp(dir=tmp)
    path = os.path.join(folder, 'overhead.yaml')
    with open(path, 'w') as f:
        f.write(OVERHEAD_CONFIG.format(seconds=args.seconds,
                                       trials=args.overhead_trials,
                                       parallel=args.parallel))
    root = os.path.join(folder, 'search_tasks')
    os.makedirs(root)
    server = driver = poller = None
    if watcher != 'alone':
        server, url = start_serve(root)
    if watcher == 'browser':
        driver = headless_chromium()
    begin = time.perf_counter()
    controller = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'bin', 'search-run'), path],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        if watcher != 'alone':
            while not os.path.exists(os.path.join(root, 'overhead',
                                                  'task.db')):
                time.sleep(0.05)
        if watcher == 'browser':
            driver.get(url + '#task=overhead')
        if watcher == 'poller':
            poller = Poller(url, 'overhead')
        if controller.wait() != 0:
            raise SystemExit(controller.stderr.read()[-2000:])
        wall = time.perf_counter() - begin
        if driver is not None:  # the page did follow the search
            rows = driver.execute_script(
                "return document.querySelectorAll('#trials tbody tr').length")
            assert rows > 0, rows
        if poller is not None:
            assert poller.answers > 0
    finally:
        if poller is not None:
            poller.close()
        if driver is not None:
            driver.quit()
        if server is not None:
            stop_serve(server)
    return wall


def overhead_figures(args, tmp: str) -> dict:
    ideal = math.ceil(args.overhead_trials / args.parallel) * args.seconds
    ratios = {'alone': [], 'browser': [], 'poller': []}
    for _ in range(args.repeats):  # interleaved: drifts hit all alike
        for watcher, found in ratios.items():
            found.append(overhead_run(args, tmp, watcher) / ideal)
    median = {k: statistics.median(v) for k, v in ratios.items()}
    result = dict(overhead_trials=args.overhead_trials,
                  parallel=args.parallel, trial_seconds=args.seconds,
                  ideal_s=ideal)
    for watcher, found in ratios.items():
        result[f'ratio_{watcher}'] = round(median[watcher], 4)
        result[f'ratios_{watcher}'] = [round(r, 4) for r in found]
    for watcher in ('browser', 'poller'):
        result[f'added_pct_{watcher}'] = round(
            100 * (median[watcher] / median['alone'] - 1), 2)
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--trials', type=int, default=1000)
    parser.add_argument('--steps', type=int, default=100)
    parser.add_argument('--loads', type=int, default=3)
    parser.add_argument('--overhead-trials', type=int, default=120)
    parser.add_argument('--parallel', type=int, default=8)
    parser.add_argument('--seconds', type=float, default=1.0)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = dict(benchmark='serve_page', **page_figures(args, tmp))
        if args.repeats:
            result.update(overhead_figures(args, tmp))
    result['machine'] = machine()
    print(json.dumps(result))


if __name__ == '__main__':
    main()
