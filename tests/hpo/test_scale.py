"""What keeps a search cheap at size: the writer's state tally, search-ctl
show's limited table, and exports written a trial at a time (the figures:
benchmarks/hpo_scale.py, docs/benchmarks.md)."""
import csv
import io
import json

import pytest

from gml.search.cli import ctl
from gml.search.optimize_mode import OptimizeMode
from gml.search.store import TaskStore, TrialState

CONFIG = dict(task=dict(template='run {lr}',
                        search_args=dict(lr=dict(type='Real', lower=0.0,
                                                 upper=1.0))),
              searcher=dict(type='RandomSearcher', reward_attribute='acc'),
              scheduler=dict(type='local', parallel_size=4))

# trial id -> (state, reward): 30 trials; ties at 90.0 (trials 4 and 9)
STATES = {i: ('COMPLETED', 50.0 + i) for i in range(1, 31)}
STATES.update({4: ('COMPLETED', 90.0), 9: ('COMPLETED', 90.0),
               5: ('FAILED', None), 6: ('FAILED', None),
               7: ('EARLY_STOPPED', 60.5), 29: ('RUNNING', None),
               30: ('RUNNING', None)})


def _task(root, states=STATES, metrics=True):
    folder = root / 'search_tasks' / 'big'
    folder.mkdir(parents=True)
    store = TaskStore(str(folder / 'task.db'))
    store.set_meta(name='big', config=CONFIG, created=0.0, elapsed=10.0,
                   state='DONE')
    for trial_id, (state, reward) in sorted(states.items()):
        assert store.add_trial(dict(lr=trial_id / 100,
                                    nested={'depth': trial_id % 3})) \
            == trial_id
        ended = None if state == 'RUNNING' else 100.0 + trial_id
        store.update_trial(trial_id, state=state, reward=reward,
                           started=None if state == 'RUNNING' else 90.0,
                           ended=ended, attempts=1,
                           message='exit code 1' if state == 'FAILED'
                           else None)
        if metrics and trial_id % 4:  # every 4th trial reported nothing
            store.add_metrics(trial_id, [('acc', s, s * 1.5)
                                         for s in range(1, 4)])
        if metrics and trial_id % 5 == 0:
            store.add_metrics(trial_id, [('loss', 1, 0.5), ('loss', 2, 0.25)])
    store.close()
    return str(root / 'search_tasks')


def _ctl(capsys, root, *argv):
    assert ctl.main(['--root', root, *argv]) == 0
    return capsys.readouterr().out


def _table_ids(text):
    """Trial ids of the rows of the plain trials table."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith('trial  state')) + 2
    ids = []
    for line in lines[start:]:
        if not line.strip():
            break
        ids.append(int(line.split()[0]))
    return ids


def test_writer_tally_matches_the_table(tmp_path):
    store = TaskStore(str(tmp_path / 'task.db'))
    ids = [store.add_trial({'i': i}) for i in range(6)]
    assert store.state_counts() == {'WAITING': 6} and store.count_trials() == 6
    store.update_trial(ids[0], state=TrialState.RUNNING, job_id='1')
    store.update_trial(ids[1], state='RUNNING')
    store.update_trial(ids[1], state=TrialState.COMPLETED, reward=1.0)
    store.update_trial(ids[2], message='no state change')
    ids.append(store.add_trial({'i': 6}))
    expected = {'WAITING': 5, 'RUNNING': 1, 'COMPLETED': 1}
    assert store.state_counts() == expected and store.count_trials() == 7
    reader = TaskStore(str(tmp_path / 'task.db'), readonly=True)
    assert reader.state_counts() == expected and reader.count_trials() == 7
    reader.close()
    store.close()
    again = TaskStore(str(tmp_path / 'task.db'))  # the tally loads once
    again.update_trial(ids[0], state='FAILED')
    assert again.state_counts() == {'WAITING': 5, 'FAILED': 1,
                                    'COMPLETED': 1}
    again.close()


def test_store_queries_for_the_best_the_last_and_the_recent(tmp_path):
    root = _task(tmp_path)
    store = TaskStore(f'{root}/big/task.db', readonly=True)
    best = store.best_trials(4, OptimizeMode.MAXIMIZE)
    assert [(t.id, t.reward) for t in best] == \
        [(4, 90.0), (9, 90.0), (28, 78.0), (27, 77.0)]
    worst = store.best_trials(2, OptimizeMode.MINIMIZE)
    assert [(t.id, t.reward) for t in worst] == [(1, 51.0), (2, 52.0)]
    assert len(store.best_trials(None, OptimizeMode.MAXIMIZE)) == 25
    assert [t.id for t in store.trials([TrialState.FAILED], last=1)] == [6]
    assert [t.id for t in store.trials(last=3)] == [28, 29, 30]
    assert [t.id for t in store.recent_trials(3)] == [26, 27, 28]
    store.close()


def test_show_lists_the_best_and_the_running_of_a_large_task(tmp_path,
                                                             capsys):
    root = _task(tmp_path)
    out = _ctl(capsys, root, 'show', '-t', 'big', '-n', '5')
    assert 'trials:    30 (completed 25, early-stopped 1, failed 2, ' \
        'running 2)' in out
    assert _table_ids(out) == [4, 9, 28, 27, 26, 29, 30]
    assert 'listed: the 5 best by acc, then the 2 running; 23 of the 30 ' \
        'trials not listed (--all lists every trial)' in out
    assert 'best: trial 4, acc = 90,' in out
    assert 'trial 5 failed: exit code 1' in out
    assert 'trial 6 failed: exit code 1' in out
    every = _ctl(capsys, root, 'show', '-t', 'big', '--all')
    assert _table_ids(every) == list(range(1, 31))
    assert 'listed:' not in every
    # up to the limit (default 20 < 30; here 30) every trial, by id
    assert _table_ids(_ctl(capsys, root, 'show', '-t', 'big', '-n', '30')) \
        == list(range(1, 31))
    listing = _ctl(capsys, root, 'list')
    assert listing.splitlines()[2].split()[:5] == \
        ['big', 'DONE', '30', '90', '4']


def _reference_json(store, name):
    """The JSON export as it was built before: every trial in memory."""
    rows = ctl.export_rows(store, None)
    for row in rows:
        row['metrics'] = {metric: store.metric_series(row['trial'], metric)
                          for metric in store.metric_names()}
    return json.dumps(dict(task=name, reward='acc', mode='maximize',
                           trials=rows), indent=1)


@pytest.mark.parametrize('states', [STATES, {}], ids=['30 trials', 'empty'])
def test_exports_equal_the_whole_document_built_at_once(tmp_path, capsys,
                                                        states):
    root = _task(tmp_path, states)
    store = TaskStore(f'{root}/big/task.db', readonly=True)
    out = _ctl(capsys, root, 'export', '-t', 'big', '--format', 'json',
               '--metrics')
    assert out == _reference_json(store, 'big')
    data = json.loads(out)
    assert len(data['trials']) == len(states)
    if states:
        assert data['trials'][9]['metrics'] == {
            'acc': [[1, 1.5], [2, 3.0], [3, 4.5]],
            'loss': [[1, 0.5], [2, 0.25]]}
        assert data['trials'][3]['metrics'] == {'acc': [], 'loss': []}
    plain = _ctl(capsys, root, 'export', '-t', 'big', '--format', 'json')
    rows = ctl.export_rows(store, None)
    assert plain == json.dumps(dict(task='big', reward='acc', mode='maximize',
                                    trials=rows), indent=1)
    table = _ctl(capsys, root, 'export', '-t', 'big', '--format', 'csv')
    buffer = io.StringIO()
    columns = [] if not rows else list(rows[0])
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    assert table == buffer.getvalue()
    target = tmp_path / 'out.json'
    said = _ctl(capsys, root, 'export', '-t', 'big', '--format', 'json',
                '--metrics', '-o', str(target))
    assert said == f'wrote {len(states)} trials to {target}\n'
    assert target.read_text() == _reference_json(store, 'big')
    store.close()


def test_local_find_knows_a_launch_from_its_process_or_its_exit(tmp_path):
    import os
    import subprocess
    import time

    from gml.search.schedulers.base import EXIT_FILE
    from gml.search.schedulers.local import LocalScheduler
    scheduler = LocalScheduler(parallel_size=1)
    try:
        assert scheduler.find(1, str(tmp_path)) is None  # nothing there
        script = tmp_path / 'run.sh'
        script.write_text('sleep 30\n')  # has not written job_id yet
        proc = subprocess.Popen(['bash', str(script)], start_new_session=True)
        deadline = time.monotonic() + 10  # until the child runs the script
        while str(script).encode() not in open(
                f'/proc/{proc.pid}/cmdline', 'rb').read() and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            job_id = scheduler.find(1, str(tmp_path))
            assert json.loads(job_id) == {'pid': proc.pid, 'gpus': []}
        finally:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 10
        while os.path.exists(f'/proc/{proc.pid}') and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        (tmp_path / 'job_id').write_text(f'{proc.pid}\n')
        assert scheduler.find(1, str(tmp_path)) is None  # gone, no exit
        (tmp_path / EXIT_FILE).write_text('0\n')  # gone, exit recorded
        assert json.loads(scheduler.find(1, str(tmp_path)))['pid'] == \
            proc.pid
    finally:
        scheduler.shutdown()


@pytest.mark.parametrize('still_running', [False, True],
                         ids=['ended', 'running'])
def test_resume_records_a_launch_the_controller_died_before_recording(
        tmp_path, still_running):
    """Killed between starting a trial and writing its job id to the store:
    the resumed controller finds the job (finished: it finalizes it; still
    running: it re-attaches it) and records the attempt; the trial's
    command ran once."""
    import os
    import subprocess
    import sys
    import time

    from gml.search.config import load_search_config
    from gml.search.report import METRICS_ENV
    from gml.search.schedulers.base import SCRIPT_FILE, write_script
    from gml.search.template import render

    from .helpers import runs_log, search, write_config, write_trial
    trial = write_trial(tmp_path)
    config = write_config(tmp_path, f'''
        task:
          template: "{sys.executable} {trial} lr={{lr}} steps=30 delay=0.1"
          search_args:
            lr: {{type: Categorical, data: [0.1]}}
        searcher: {{type: GridSearcher, reward_attribute: acc}}
        ''')
    cfg = load_search_config(str(config))
    folder = tmp_path / 'search_tasks' / 'search'
    trial_dir = folder / 'trials' / '1'
    trial_dir.mkdir(parents=True)
    (folder / 'config.yaml').write_text(config.read_text())
    store = TaskStore(str(folder / 'task.db'))
    store.set_meta(name='search', config=cfg.raw, created=time.time(),
                   elapsed=1.0, state='RUNNING')
    assert store.add_trial({'lr': 0.1}) == 1  # WAITING, no job id
    store.close()
    command = render(cfg.template, {'lr': 0.1}, str(trial_dir / 'work'), 1)
    script = write_script(str(trial_dir), command, str(tmp_path), {
        METRICS_ENV: str(trial_dir / 'metrics.jsonl'),
        'GML_SEARCH_TRIAL_ID': '1'})
    written = os.path.getmtime(script)
    proc = subprocess.Popen(['bash', script], start_new_session=True,
                            cwd=tmp_path)
    if still_running:
        deadline = time.monotonic() + 30
        while not runs_log(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.remove(trial_dir / 'job_id')  # as if run.sh had not got there
    else:
        proc.wait(timeout=60)
    resumed = search('search-run', '--resume', 'search', cwd=tmp_path)
    proc.wait(timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    reader = TaskStore(str(folder / 'task.db'), readonly=True)
    done, = reader.trials()
    reader.close()
    assert (done.state, done.attempts, done.reward) == ('COMPLETED', 1, 100.0)
    assert json.loads(done.job_id)['pid'] == proc.pid
    assert done.started == pytest.approx(written, abs=1e-3)
    assert [event for event, _, _ in runs_log(tmp_path)] == ['start', 'end']
    assert SCRIPT_FILE == 'run.sh'


def test_search_run_ends_with_the_same_limited_table(tmp_path):
    """25 trials: the final table of search-run lists the best 20 (acc =
    the trial's number) and says how to see the other 5."""
    from .helpers import search, write_config
    config = write_config(tmp_path, '''
        task:
          template: "echo '{{\\"step\\": 1, \\"acc\\": {i}}}' > $GML_SEARCH_METRICS"
          search_args: {i: {type: Int, lower: 1, upper: 26}}  # 1..25
        scheduler: {parallel_size: 4}
        ''')
    run = search('search-run', str(config), cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()
            if line.split() and line.split()[1:2] == ['COMPLETED']]
    assert [int(r[0]) for r in rows] == list(range(25, 5, -1))
    assert ('listed: the 20 best by acc; 5 of the 25 trials not listed '
            '(`search-ctl show -t search --all` lists every trial)') in \
        run.stdout
