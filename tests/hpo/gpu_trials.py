"""A trial program that records the GPUs it was given, and readers of what
it wrote: for the tests of GPU sharing between trials (fake ids on CPU,
real devices in tests/gpu)."""
import itertools
import sys
import textwrap
from dataclasses import dataclass
from typing import List, Tuple

from ..conftest import REPO

TRIAL = textwrap.dedent('''
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from gml.search import report
    args = dict(a.split('=', 1) for a in sys.argv[1:])
    x = int(args['x'])
    hold = float(args['long']) if x < int(args['slow']) else \\
        float(args['base']) + 0.15 * (2 * x % 3)
    seen = os.environ.get('CUDA_VISIBLE_DEVICES', '-') or '-'
    if args.get('torch') == '1':  # what CUDA itself enumerates
        import torch
        props = map(torch.cuda.get_device_properties,
                    range(torch.cuda.device_count()))
        seen += '/' + ','.join(f'{{p.pci_domain_id}}.{{p.pci_bus_id}}.'
                               f'{{p.pci_device_id}}' for p in props)
    trial = os.environ['GML_SEARCH_TRIAL_ID']

    def log(event):
        with open({log!r}, 'a') as f:
            f.write(f'{{event}} {{trial}} {{time.time()}} {{seen}}\\n')

    log('start')
    time.sleep(hold)
    report(step=1, acc=float(x))
    log('end')
''')


@dataclass
class Run:
    """One run of the trial program: when it ran and the GPUs it saw."""
    trial: int
    start: float
    end: float
    gpus: Tuple[str, ...]  # its CUDA_VISIBLE_DEVICES, split
    devices: str = ''      # what torch enumerated (with torch=1)

    def overlaps(self, other: 'Run') -> bool:
        return self.start < other.end and other.start < self.end


def gpu_search_config(tmp_path, points: int, scheduler: str, slow: int = 0,
                      long: float = 3.0, base: float = 1.0,
                      torch: bool = False):
    """A grid search over x = 0 .. points-1 of the trial program: trials
    x < ``slow`` hold ``long`` s, the others ``base`` + 0.15 (2x mod 3) s
    (so they do not end in the order they started).
    ``scheduler``: the keys of the ``scheduler:`` block, one a line."""
    trial = tmp_path / 'gpu_trial.py'
    trial.write_text(TRIAL.format(repo=REPO, log=str(tmp_path / 'gpus.log')))
    keys = textwrap.indent(textwrap.dedent(scheduler).strip(), '  ')
    config = tmp_path / 'search.yaml'
    config.write_text(
        'task:\n'
        f'  template: "{sys.executable} {trial} x={{x}} slow={slow} '
        f'long={long} base={base} torch={int(torch)}"\n'
        '  search_args:\n'
        f'    x: {{type: Categorical, data: {list(range(points))}}}\n'
        'searcher: {type: GridSearcher, reward_attribute: acc}\n'
        f'scheduler:\n{keys}\n')
    return config


def read_runs(tmp_path) -> List[Run]:
    """Every run the trial program logged, start and end paired (a run
    still going has end = +inf)."""
    path = tmp_path / 'gpus.log'
    starts, runs = {}, []
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        event, trial, when, seen = line.split()
        visible, _, devices = seen.partition('/')
        key = (int(trial), visible)
        if event == 'start':
            starts[key] = (float(when), devices)
        else:
            start, devices = starts.pop(key)
            runs.append(Run(int(trial), start, float(when),
                            tuple(visible.split(',')), devices))
    runs += [Run(t, s, float('inf'), tuple(v.split(',')), d)
             for (t, v), (s, d) in starts.items()]
    return sorted(runs, key=lambda r: r.start)


def started(tmp_path) -> int:
    return len(read_runs(tmp_path))


def clashes(runs: List[Run], attribute: str = 'gpus') -> List[tuple]:
    """Pairs of runs that overlapped in time and shared a GPU."""
    def ids(run):
        value = getattr(run, attribute)
        return set(value.split(',')) if isinstance(value, str) else set(value)
    return [(a, b) for a, b in itertools.combinations(runs, 2)
            if a.overlaps(b) and ids(a) & ids(b)]


def peak_concurrency(runs: List[Run]) -> int:
    """The most runs that were going at one moment."""
    events = sorted([(r.start, 1) for r in runs] + [(r.end, -1) for r in runs],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak
