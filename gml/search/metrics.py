"""Collecting a trial's metrics from the files it writes.

Two sources, both append-only JSON lines that need no cooperation from the
trial beyond what it does anyway:

* mmengine's ``<work_dir>/<timestamp>/vis_data/scalars.json``: any mmengine
  training reports with no code change (validation lines carry the epoch as
  ``step``);
* ``<trial_dir>/metrics.jsonl``, written by :func:`gml.search.report`.

Only complete lines are read, so a line being written is picked up on the
next poll.
"""
import glob
import json
import math
import os
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .optimize_mode import OptimizeMode

Record = Tuple[str, int, float]

# Short names a search config may use for mmpretrain's metric keys.
METRIC_ALIASES: Dict[str, Tuple[str, ...]] = {
    'acc': ('accuracy/top1', 'accuracy'),
    'top1': ('accuracy/top1', ),
    'top5': ('accuracy/top5', ),
}
RESCAN_SECONDS = 2.0


def match_names(record: dict, wanted: Sequence[str]) -> List[Tuple[str, float]]:
    """The wanted metrics in one JSON record, under the wanted names."""
    found = []
    for name in wanted:
        for key in (name, ) + METRIC_ALIASES.get(name, ()):
            if key in record:
                try:
                    value = float(record[key])
                except (TypeError, ValueError):
                    break
                found.append((name, value))
                break
    return found


class _TailedFile:
    """Yields the complete new lines of a growing file."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0

    def new_lines(self) -> List[str]:
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return []
        if size <= self.offset:
            return []
        with open(self.path, 'rb') as f:
            f.seek(self.offset)
            chunk = f.read(size - self.offset)
        end = chunk.rfind(b'\n')
        if end < 0:
            return []
        self.offset += end + 1
        return chunk[:end].decode(errors='replace').splitlines()


class MetricCollector:
    """Reads the new metric values of one trial at each :meth:`collect`.

    Args:
        trial_dir: holds ``metrics.jsonl``.
        work_dir: the trial's ``{work_dir}``, searched for mmengine scalars.
        names: the metric names to keep (``scalars`` of the config).
    """

    def __init__(self, trial_dir: str, work_dir: str, names: Sequence[str]):
        self.names = list(names)
        self.work_dir = work_dir
        self.files = {p: _TailedFile(p) for p in
                      [os.path.join(trial_dir, 'metrics.jsonl')]}
        self._last_scan = 0.0

    def _scan(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_scan < RESCAN_SECONDS:
            return
        self._last_scan = now
        pattern = os.path.join(self.work_dir, '*', 'vis_data', 'scalars.json')
        for path in sorted(glob.glob(pattern)):
            self.files.setdefault(path, _TailedFile(path))

    def collect(self, force_scan: bool = False) -> List[Record]:
        """New ``(name, step, value)`` records since the last call."""
        self._scan(force_scan)
        records: List[Record] = []
        for tail in self.files.values():
            for line in tail.new_lines():
                try:
                    data = json.loads(line)
                    step = int(data['step'])
                except (ValueError, KeyError, TypeError):
                    continue
                records.extend((name, step, value)
                               for name, value in match_names(data, self.names))
        return records


def reduce_reward(series: Iterable[Tuple[int, float]],
                  mode: OptimizeMode, reduce: str) -> Optional[float]:
    """The trial's reward: its last value, or its best in direction ``mode``."""
    values = [v for _, v in series if v is not None and not math.isnan(v)]
    if not values:
        return None
    if reduce == 'final':
        return values[-1]
    return mode.best(values)
