"""HPO at scale: controller throughput, the store and search-ctl at size,
and kill -9 / --resume under load.

Usage: python benchmarks/hpo_scale.py [--throughput] [--store] [--chaos]
           [--trials 1000] [--parallel 32] [--seconds 0.2] [--kills 20]
           [--kill-trials 5] [--seed 0]
           [--store-trials 10000] [--steps 100] [--ctl-timeout 300]
           [--repo PATH] [--profile OUT]

With no part named, all three run. Prints one JSON line.

* throughput: `search-run` of a grid of --trials trials, --parallel at a
  time; each trial is a small shell command that sleeps --seconds and
  appends its metric line to $GML_SEARCH_METRICS (what `gml.search.report`
  writes) and its start and end times to a log. Reports the wall time of
  the command, the ideal trials x seconds / parallel, the ideal from the
  trials' own measured durations, and wall / ideal (target <= 1.10); and
  the floor: the same run.sh scripts run by a bare loop (no store, no
  polling), the least any controller could reach on this machine; and
  the CPU seconds the search-run process used.
* store: a task store of --store-trials trials x --steps metric steps,
  written directly with TaskStore, then `search-ctl show` (piped, and in
  a pseudo-terminal, where it draws a rich table), `list`,
  `export --format csv` and `export --format json --metrics` timed as
  subprocesses (median of 3; target for show: <= 1 s).
* chaos: the throughput run, with the controller killed (SIGKILL) --kills
  times at random moments and resumed with `search-run --resume` each time;
  in the first --kill-trials outages one running trial's process group is
  killed too (as if its machine had rebooted: that trial must run again).
  Checks, from the store and from the append-only log the trial commands
  write: every trial ended exactly once COMPLETED, every grid point ran,
  no trial ran twice at the same time; counts re-runs and says why.

--repo runs another checkout's bin/search-run and bin/search-ctl (to
measure a change side by side with the code before it); --profile writes
the throughput run's cProfile statistics to OUT.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The trial: log its start (trial id, shell pid, time), sleep, write the
# metric line the way gml.search.report does, log its end. $EPOCHREALTIME
# and echo are bash built-ins: the only process the command starts is sleep.
TEMPLATE = ('echo "start {{trial_id}} $$ $EPOCHREALTIME" >> {log}; '
            'sleep {seconds}; '
            'echo "{{{{\\"step\\": 1, \\"acc\\": {{i}}}}}}" '
            '>> "$GML_SEARCH_METRICS"; '
            'echo "end {{trial_id}} $$ $EPOCHREALTIME" >> {log}')

CONFIG = """
task:
  template: {template}
  search_args:
    i: {{type: Int, lower: 0, upper: {trials}}}
searcher: {{type: GridSearcher, reward_attribute: acc}}
scheduler:
  type: local
  parallel_size: {parallel}
  stop_criterion: {{max_tries: {trials}}}
generate_log: false
"""


def write_config(folder, trials, parallel, seconds):
    log = os.path.join(folder, 'runs.log')
    template = TEMPLATE.format(log=log, seconds=seconds)
    path = os.path.join(folder, 'scale.yaml')
    with open(path, 'w') as f:
        f.write(CONFIG.format(template=json.dumps(template), trials=trials,
                              parallel=parallel))
    return path, log


# runs a bin/ script and writes the CPU seconds it used to a file at exit
CPU_WRAPPER = """
import atexit, resource, runpy, sys
out = sys.argv.pop(1)
def done():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, 'w') as f:
        f.write(str(usage.ru_utime + usage.ru_stime))
atexit.register(done)
sys.argv.pop(0)
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def command(repo, tool, *args, profile=None, cpu_file=None):
    script = os.path.join(repo, 'bin', tool)
    if profile:
        return [sys.executable, '-m', 'cProfile', '-o', profile, script,
                *args]
    if cpu_file:
        return [sys.executable, '-c', CPU_WRAPPER, cpu_file, script, *args]
    return [sys.executable, script, *args]


def read_log(path):
    """[(event, trial id, pid, time)] in the order they were written."""
    rows = []
    with open(path) as f:
        for line in f:
            event, trial, pid, when = line.split()
            rows.append((event, int(trial), int(pid), float(when)))
    return rows


def runs_of(events):
    """{trial id: [[pid, start, end or None]]}, a run per start line."""
    runs = {}
    for event, trial, pid, when in events:
        if event == 'start':
            runs.setdefault(trial, []).append([pid, when, None])
        else:
            for run in runs.get(trial, []):
                if run[0] == pid:
                    run[2] = when
    return runs


def open_store(folder, name='scale'):
    sys.path.insert(0, REPO)
    from gml.search.store import TaskStore
    return TaskStore(os.path.join(folder, 'search_tasks', name, 'task.db'),
                     readonly=True)


def floor(args, folder):
    """Seconds a bare loop takes to run the same trials (the same run.sh,
    rendered the same way) --parallel at a time: no store, no polling. On
    a small machine the shells' start-up alone keeps wall / ideal above 1;
    this is the least the controller could reach here."""
    sys.path.insert(0, REPO)
    from gml.search.report import METRICS_ENV
    from gml.search.schedulers.base import write_script
    from gml.search.template import render
    template = TEMPLATE.format(log=os.path.join(folder, 'floor.log'),
                               seconds=args.seconds)
    start = time.perf_counter()
    running, launched = {}, 0  # pid -> Popen (kept: nothing else reaps)
    while launched < args.trials or running:
        while len(running) < args.parallel and launched < args.trials:
            trial_dir = os.path.join(folder, 'floor', str(launched))
            os.makedirs(trial_dir)
            env = {METRICS_ENV: os.path.join(trial_dir, 'metrics.jsonl')}
            script = write_script(trial_dir, render(
                template, dict(i=launched), trial_dir, launched), folder, env)
            proc = subprocess.Popen(['bash', script],
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            running[proc.pid] = proc
            launched += 1
        pid, status = os.wait()
        running.pop(pid).returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start


def throughput(args):
    with tempfile.TemporaryDirectory() as tmp:
        floor_s = floor(args, tmp)
        config, log = write_config(tmp, args.trials, args.parallel,
                                   args.seconds)
        start = time.perf_counter()
        cpu_file = os.path.join(tmp, 'cpu')
        run = subprocess.run(command(args.repo, 'search-run', config,
                                     profile=args.profile, cpu_file=cpu_file),
                             cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if run.returncode != 0:
            sys.exit(run.stderr[-3000:])
        with open(cpu_file) as f:
            cpu = float(f.read())
        store = open_store(tmp)
        trials = store.trials()
        store.close()
        runs = runs_of(read_log(log))
    durations = [end - begin for rs in runs.values() for _, begin, end in rs
                 if end is not None]
    ideal = args.trials * args.seconds / args.parallel
    measured = sum(durations) / args.parallel
    return dict(
        trials=args.trials, parallel=args.parallel,
        trial_seconds=args.seconds,
        completed=sum(t.state == 'COMPLETED' for t in trials),
        wall_s=round(wall, 2), ideal_s=round(ideal, 2),
        ratio=round(wall / ideal, 3),
        floor_s=round(floor_s, 2), ratio_floor=round(wall / floor_s, 3),
        controller_cpu_s=round(cpu, 2),
        measured_ideal_s=round(measured, 2),
        ratio_measured=round(wall / measured, 3),
        trial_seconds_median=round(statistics.median(durations), 3))


def build_store(folder, trials, steps):
    """A DONE task of ``trials`` trials with ``steps`` values of 'acc'."""
    sys.path.insert(0, REPO)
    from gml.search.store import TaskStore, TrialState
    path = os.path.join(folder, 'search_tasks', 'big')
    os.makedirs(path)
    raw = dict(task=dict(template='train.py --lr {lr} --wd {wd}',
                         search_args=dict(
                             lr=dict(type='Real', lower=1e-4, upper=1.0),
                             wd=dict(type='Real', lower=0.0, upper=0.1))),
               searcher=dict(type='RandomSearcher', reward_attribute='acc'),
               scheduler=dict(type='local', parallel_size=32))
    rng = random.Random(0)
    store = TaskStore(os.path.join(path, 'task.db'))
    store.set_meta(name='big', config=raw, created=time.time(),
                   elapsed=3600.0, state='DONE')
    states = ['COMPLETED'] * 90 + ['FAILED'] * 6 + ['EARLY_STOPPED'] * 4
    now = time.time()
    for _ in range(trials):
        trial_id = store.add_trial(dict(lr=rng.uniform(1e-4, 1.0),
                                        wd=rng.uniform(0.0, 0.1)))
        state = TrialState(rng.choice(states))
        top = rng.uniform(50, 99)
        curve = [top * (1 - 0.9 ** (s + 1)) for s in range(steps)]
        store.add_metrics(trial_id, [('acc', s + 1, v)
                                     for s, v in enumerate(curve)])
        store.update_trial(
            trial_id, state=state, started=now, ended=now + 60,
            attempts=1, job_id=json.dumps({'pid': 1000 + trial_id}),
            reward=None if state == TrialState.FAILED else max(curve),
            message='exit code 1' if state == TrialState.FAILED else None)
    store.close()


def in_terminal(argv, cwd, timeout):
    """Run ``argv`` with a pseudo-terminal as its output (as a user at a
    terminal sees it: rich tables); return a CompletedProcess."""
    import pty
    master, slave = pty.openpty()
    env = dict(os.environ, TERM='xterm-256color', COLUMNS='120')
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return subprocess.CompletedProcess(argv, proc.wait(timeout),
                                       b''.join(chunks), b''.join(chunks))


def store_at_size(args):
    commands = dict(
        show=['show', '-t', 'big'], show_terminal=['show', '-t', 'big'],
        list=['list'],
        export_csv=['export', '-t', 'big', '--format', 'csv'],
        export_json_metrics=['export', '-t', 'big', '--format', 'json',
                             '--metrics'])
    result = dict(trials=args.store_trials, steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_store(tmp, args.store_trials, args.steps)
        result['build_s'] = round(time.perf_counter() - start, 2)
        result['db_mb'] = round(os.path.getsize(
            os.path.join(tmp, 'search_tasks', 'big', 'task.db')) / 2**20, 1)
        for name, argv in commands.items():
            times, size = [], 0
            for _ in range(3):
                start = time.perf_counter()
                full = command(args.repo, 'search-ctl', *argv)
                try:
                    run = in_terminal(full, tmp, args.ctl_timeout) \
                        if name.endswith('_terminal') else subprocess.run(
                            full, cwd=tmp, capture_output=True,
                            timeout=args.ctl_timeout)
                except subprocess.TimeoutExpired:
                    times = None  # reported as the limit it ran past
                    break
                times.append(time.perf_counter() - start)
                if run.returncode != 0:
                    sys.exit(run.stderr.decode()[-3000:])
                size = len(run.stdout)
            result[f'{name}_s'] = round(statistics.median(times), 3) \
                if times else f'>{args.ctl_timeout:g}'
            result[f'{name}_kb'] = size // 1024
    return result


def outage(tmp, rng, kill_trial):
    """Right after a controller was killed: what the store says is running
    or being launched; with ``kill_trial``, SIGKILL one running trial's
    process group too (as if its machine had rebooted). Returns
    (running, launching, killed trial id or None)."""
    store = open_store(tmp)
    trials = store.trials([_state('RUNNING'), _state('WAITING')])
    store.close()
    running = [t for t in trials if t.state == 'RUNNING' and t.job_id]
    launching = sum(t.state == 'WAITING' and os.path.isdir(
        os.path.join(tmp, 'search_tasks', 'scale', 'trials', str(t.id)))
        for t in trials)
    killed = None
    for trial in rng.sample(running, len(running)) if kill_trial else []:
        try:
            os.killpg(json.loads(trial.job_id)['pid'], signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed = trial.id
        break
    return len(running), launching, killed


def _state(name):
    from gml.search.store import TrialState
    return TrialState(name)


def chaos(args):
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        config, log = write_config(tmp, args.trials, args.parallel,
                                   args.seconds)
        argv = command(args.repo, 'search-run', config)
        start = time.perf_counter()
        kills, running, launching, killed = 0, 0, 0, []
        while True:
            proc = subprocess.Popen(argv, cwd=tmp, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            if kills < args.kills:
                try:
                    proc.wait(rng.uniform(0.05, 0.6))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    seen = outage(tmp, rng, kills <= args.kill_trials)
                    running, launching = running + seen[0], \
                        launching + seen[1]
                    killed += [seen[2]] if seen[2] else []
                    argv = command(args.repo, 'search-run', '--resume',
                                   'scale')
                    continue
            _, err = proc.communicate()
            if proc.returncode != 0:
                sys.exit(err.decode()[-3000:])
            break
        wall = time.perf_counter() - start
        store = open_store(tmp)
        trials = store.trials()
        store.close()
        events = read_log(log)
    runs = runs_of(events)
    ids = [t.id for t in trials]
    points = sorted(t.params['i'] for t in trials)
    overlaps = 0
    reruns = dict(of_killed_trials=0, previous_finished=0,
                  previous_unaccounted=0)
    for trial_id, trial_runs in runs.items():
        trial_runs.sort(key=lambda r: r[1])
        for before, after in zip(trial_runs, trial_runs[1:]):
            if before[2] is not None and before[2] > after[1]:
                overlaps += 1  # both ran at once
            if trial_id in killed:
                reruns['of_killed_trials'] += 1
            elif before[2] is None:
                reruns['previous_unaccounted'] += 1  # maybe still running
            else:
                reruns['previous_finished'] += 1
    return dict(
        trials=args.trials, parallel=args.parallel,
        trial_seconds=args.seconds, kills=kills, wall_s=round(wall, 2),
        running_at_kills=running, launching_at_kills=launching,
        trial_processes_killed=len(killed),
        store_ids_ok=ids == list(range(1, args.trials + 1)),
        all_completed=all(t.state == 'COMPLETED' for t in trials),
        grid_points_ok=points == list(range(args.trials)),
        trials_started=len(runs), starts=sum(map(len, runs.values())),
        unfinished_runs=sum(r[2] is None for rs in runs.values() for r in rs),
        concurrent_runs_of_one_trial=overlaps, reruns=reruns,
        attempts={n: sum(t.attempts == n for t in trials)
                  for n in sorted({t.attempts for t in trials})},
        run_again_not_killed=sum(t.attempts > 1 and t.id not in killed
                                 for t in trials))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--throughput', action='store_true')
    parser.add_argument('--store', action='store_true')
    parser.add_argument('--chaos', action='store_true')
    parser.add_argument('--trials', type=int, default=1000)
    parser.add_argument('--parallel', type=int, default=32)
    parser.add_argument('--seconds', type=float, default=0.2)
    parser.add_argument('--kills', type=int, default=20)
    parser.add_argument('--kill-trials', type=int, default=5,
                        help='chaos: also SIGKILL a running trial in the '
                        'first N outages (its re-run is expected)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--store-trials', type=int, default=10000)
    parser.add_argument('--steps', type=int, default=100)
    parser.add_argument('--ctl-timeout', type=float, default=300,
                        help='store: give up on a search-ctl command after '
                        'this many seconds')
    parser.add_argument('--repo', default=REPO,
                        help='checkout whose bin/ commands run')
    parser.add_argument('--profile', help='cProfile output of the '
                        'throughput run')
    args = parser.parse_args()
    args.repo = os.path.abspath(args.repo)
    everything = not (args.throughput or args.store or args.chaos)
    result = dict(benchmark='hpo_scale', repo=args.repo)
    if everything or args.throughput:
        result['throughput'] = throughput(args)
    if everything or args.store:
        result['store'] = store_at_size(args)
    if everything or args.chaos:
        result['chaos'] = chaos(args)
    result['machine'] = machine()
    print(json.dumps(result))


if __name__ == '__main__':
    main()
