"""How much each parameter matters to the reward.

The method: a random forest (scikit-learn) fits the reward of the
completed trials from their parameters, and each parameter's importance is
the permutation importance on those trials, the drop in R² when its column
is shuffled, normalised to sum to 1. Permutation importance is used rather
than the forest's impurity importance, which favours parameters with many
distinct values (a continuous noise parameter over a categorical one that
matters). Numbers enter as they are (a forest does not care about log
scales), anything else as the index of its value, a missing (conditional)
parameter as -1.
"""
from typing import Any, Dict, List, Sequence

from ...utils.checks import is_number

#: fewer completed trials than this give no importance
MIN_TRIALS = 8


def encode(trials: Sequence[Dict[str, Any]], names: Sequence[str]):
    """The trials' parameters as a float matrix (one column a name)."""
    import numpy as np
    codes: Dict[str, Dict[str, int]] = {name: {} for name in names}
    matrix = np.full((len(trials), len(names)), -1.0)
    for row, trial in enumerate(trials):
        for column, name in enumerate(names):
            if name not in trial['params']:
                continue
            value = trial['params'][name]
            if is_number(value):
                matrix[row, column] = float(value)
            else:
                key = repr(value)
                matrix[row, column] = codes[name].setdefault(
                    key, len(codes[name]))
    return matrix


def importance(trials: Sequence[Dict[str, Any]], names: Sequence[str],
               seed: int = 0) -> Dict[str, Any]:
    """``{method, trials, params: [{name, importance}] (largest first),
    note}`` for the trials with a reward (flattened params, as
    :meth:`TaskReader.trials` gives them)."""
    import numpy as np
    used = [t for t in trials if t['state'] == 'COMPLETED'
            and t['reward'] is not None and np.isfinite(t['reward'])]
    result: Dict[str, Any] = dict(
        method='random-forest permutation importance', trials=len(used),
        params=[], note=None)
    matrix = encode(used, names) if used else None
    varied = [i for i in range(len(names))
              if matrix is not None and np.ptp(matrix[:, i]) > 0]
    if len(used) < MIN_TRIALS or not varied:
        result['note'] = (f'needs {MIN_TRIALS} completed trials with '
                          'varied parameters')
        return result
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    x = matrix[:, varied]
    y = np.array([t['reward'] for t in used], dtype=float)
    if np.ptp(y) == 0:
        result['note'] = 'every completed trial has the same reward'
        return result
    forest = RandomForestRegressor(n_estimators=64, min_samples_leaf=2,
                                   random_state=seed, n_jobs=1).fit(x, y)
    scores = permutation_importance(forest, x, y, n_repeats=5,
                                    random_state=seed, n_jobs=1)
    drops = np.clip(scores.importances_mean, 0, None)
    total = float(drops.sum()) or 1.0
    rows: List[Dict[str, Any]] = [
        dict(name=names[i], importance=float(d) / total)
        for i, d in zip(varied, drops)]
    rows += [dict(name=n, importance=0.0) for i, n in enumerate(names)
             if i not in varied]
    result['params'] = sorted(rows, key=lambda r: -r['importance'])
    return result
