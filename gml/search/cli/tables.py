"""Plain-text tables and summaries shared by search-run and search-ctl."""
import json
from typing import Any, Dict, List, Optional, Sequence

from ..store import Trial


def flatten(params: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """``{'size': {'base': 8}}`` -> ``{'size.base': 8}``."""
    flat: Dict[str, Any] = {}
    for key, value in params.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def fmt(value: Any) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(',', ':'))
    return str(value)


def render_table(headers: Sequence[str], rows: List[Sequence[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    line = '  '.join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, '  '.join('-' * w for w in widths)]
    out += ['  '.join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return '\n'.join(out)


def trials_table(trials: List[Trial], reward_name: str = 'reward') -> str:
    names: List[str] = []
    for trial in trials:
        for key in flatten(trial.params):
            if key not in names:
                names.append(key)
    rows = []
    for t in trials:
        flat = flatten(t.params)
        duration = f'{t.duration:.1f}s' if t.duration is not None else None
        rows.append([t.id, t.state, t.reward, duration]
                    + [flat.get(n) for n in names])
    return render_table(['trial', 'state', reward_name, 'duration'] + names,
                        rows)


def best_trial(trials: List[Trial], mode: str) -> Optional[Trial]:
    done = [t for t in trials if t.state == 'COMPLETED' and t.reward is not None]
    if not done:
        return None
    pick = max if mode == 'max' else min
    return pick(done, key=lambda t: t.reward)
