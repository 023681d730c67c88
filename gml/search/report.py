"""Report metrics from any program to the search that launched it.

``gml.search.report(step=..., **metrics)`` appends one JSON line to the file
named by the environment variable ``GML_SEARCH_METRICS`` (set by the search
controller for every trial). Outside a search it does nothing, so a training
script can call it unconditionally. Standard library only: importing it costs
nothing.

    from gml.search import report
    for epoch in range(epochs):
        ...
        report(step=epoch + 1, acc=accuracy, loss=val_loss)
"""
import json
import math
import os
import time
from typing import Optional

METRICS_ENV = 'GML_SEARCH_METRICS'
_auto_step = {'next': 1}


def report(step: Optional[int] = None, **metrics: float) -> bool:
    """Record ``metrics`` at ``step`` (1, 2, ... when left out).

    Returns True when the values were written, False outside a search.
    Values must be numbers; NaN and infinities are kept as strings.
    """
    path = os.environ.get(METRICS_ENV)
    if not path:
        return False
    if step is None:
        step = _auto_step['next']
    _auto_step['next'] = int(step) + 1
    record = {'step': int(step), 'time': time.time()}
    for name, value in metrics.items():
        value = float(value)
        record[name] = value if math.isfinite(value) else str(value)
    line = json.dumps(record) + '\n'
    # one write() of a short line in append mode: lines never interleave
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return True
