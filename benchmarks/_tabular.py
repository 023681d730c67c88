"""Read the digits tabular benchmark for replayed (simulated) searches.

``benchmarks/data/digits_tabular.json`` (made by
``benchmarks/make_digits_tabular.py``) holds, for every sampled
configuration, the validation top-1 accuracy after each epoch of a real
training run and the seconds each epoch took. A replay asks for the accuracy
a configuration reaches after some epochs and the time that took::

    from _tabular import Tabular
    table = Tabular()                    # the default file
    accuracy, seconds = table.query(17, 9)   # config 17 after 9 epochs
    table.config(17)                     # {'lr': ..., 'base_channels': ...}

Simulated time: ``cost='group'`` (default) charges every epoch of a
configuration the median seconds per epoch of all runs with the same width
and batch size, which is what the cost of an epoch depends on; the runs were
timed on a machine shared with other jobs, so one run's own time carries
contention noise. ``cost='run'`` charges each run its own measured mean.
"""
import json
import math
import os
import statistics
from typing import Dict, List, Optional, Tuple

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'data', 'digits_tabular.json')


class Tabular:
    """The table: configurations, per-epoch accuracy, simulated seconds."""

    def __init__(self, path: str = DEFAULT_PATH, cost: str = 'group'):
        if cost not in ('group', 'run'):
            raise ValueError(f"cost: expected 'group' or 'run', found "
                             f'{cost!r}')
        with open(path) as f:
            data = json.load(f)
        self.path, self.cost = path, cost
        self.meta = {k: v for k, v in data.items() if k != 'runs'}
        self.runs: List[dict] = sorted(data['runs'],
                                       key=lambda r: r['index'])
        self.max_epochs: int = data['settings']['epochs']
        groups: Dict[Tuple[int, int], List[float]] = {}
        for run in self.runs:
            groups.setdefault(self._group(run['config']), []).append(
                run['seconds_per_epoch'])
        self.group_seconds = {k: statistics.median(v)
                              for k, v in groups.items()}

    @staticmethod
    def _group(config: dict) -> Tuple[int, int]:
        return config['base_channels'], config['batch_size']

    def __len__(self) -> int:
        return len(self.runs)

    def config(self, index: int) -> dict:
        """The hyper-parameters of configuration ``index`` (0-based row)."""
        return dict(self.runs[index]['config'])

    def curve(self, index: int) -> List[float]:
        """Accuracy (percent) after epochs 1..max_epochs."""
        return list(self.runs[index]['val_top1'])

    def seconds_per_epoch(self, index: int) -> float:
        run = self.runs[index]
        if self.cost == 'run':
            return run['seconds_per_epoch']
        return self.group_seconds[self._group(run['config'])]

    def query(self, index: int, epochs: int) -> Tuple[float, float]:
        """(accuracy after ``epochs`` epochs, simulated seconds to train
        them from scratch); ``epochs`` from 1 to ``max_epochs``."""
        if not 1 <= epochs <= self.max_epochs:
            raise ValueError(f'epochs: expected 1..{self.max_epochs}, found '
                             f'{epochs}')
        return (self.runs[index]['val_top1'][epochs - 1],
                epochs * self.seconds_per_epoch(index))

    def accuracy(self, index: int, epochs: int) -> float:
        return self.query(index, epochs)[0]

    def seconds(self, index: int, epochs: int) -> float:
        return self.query(index, epochs)[1]

    def best(self, epochs: Optional[int] = None) -> Tuple[int, float]:
        """(row, accuracy) of the best accuracy after ``epochs`` epochs
        (default: the last), ties to the lower row."""
        epochs = epochs or self.max_epochs
        row = max(range(len(self)),
                  key=lambda i: (self.accuracy(i, epochs), -i))
        return row, self.accuracy(row, epochs)

    def nearest(self, lr: float, base_channels: int, weight_decay: float,
                batch_size: int) -> int:
        """The row closest to a configuration: same width and batch size
        where the table has one, then the least (log10) distance in
        learning rate and weight decay."""
        def distance(run: dict) -> Tuple[int, float]:
            c = run['config']
            other = (c['base_channels'], c['batch_size']) != \
                (base_channels, batch_size)
            return other, math.hypot(
                math.log10(c['lr'] / lr),
                math.log10(c['weight_decay'] / weight_decay))
        return min(range(len(self)), key=lambda i: distance(self.runs[i]))


_CACHE: Dict[Tuple[str, str], Tabular] = {}


def query(index: int, epochs: int, path: str = DEFAULT_PATH,
          cost: str = 'group') -> Tuple[float, float]:
    """:meth:`Tabular.query` on a table read once per (path, cost)."""
    key = (path, cost)
    if key not in _CACHE:
        _CACHE[key] = Tabular(path, cost)
    return _CACHE[key].query(index, epochs)


def summary(table: Tabular) -> dict:
    """Size, time and the spread of accuracies of a table."""
    finals = sorted(table.accuracy(i, table.max_epochs)
                    for i in range(len(table)))
    bests = [max(table.curve(i)) for i in range(len(table))]

    def share(threshold: float) -> float:
        return round(sum(f >= threshold for f in finals) / len(finals), 3)
    return dict(
        configs=len(table), epochs=table.max_epochs,
        train_s=round(sum(sum(r['epoch_s']) for r in table.runs), 1),
        final_top1=dict(best=finals[-1], median=statistics.median(finals),
                        worst=finals[0],
                        quartiles=[round(q, 2) for q in
                                   statistics.quantiles(finals, n=4)]),
        best_epoch_top1=max(bests),
        share_final_at_least={'98': share(98), '95': share(95),
                              '90': share(90), '50': share(50)},
        diverged=sum(r['diverged_epoch'] is not None for r in table.runs),
        seconds_per_epoch_by_width_batch={
            f'{w}x{b}': round(s, 3)
            for (w, b), s in sorted(table.group_seconds.items())})


if __name__ == '__main__':
    print(json.dumps(summary(Tabular())))
