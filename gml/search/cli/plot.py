"""search-ctl plot: one PNG with the three views of a task."""
from typing import List

from ...utils.checks import is_number
from ..store import TrialState
from .tables import flatten


def plot_task(store, cfg, output: str, title: str = '') -> None:
    """Reward per trial with best-so-far, learning curves, param vs reward."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    trials = store.trials()
    done = [t for t in trials if t.reward is not None]
    numeric: List[str] = []
    for t in trials:
        for key, value in flatten(t.params).items():
            if is_number(value) and key not in numeric:
                numeric.append(key)
    panels = 2 + len(numeric)
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 4),
                             squeeze=False)
    axes = axes[0]

    ax = axes[0]
    colors = {TrialState.COMPLETED: 'tab:blue',
              TrialState.EARLY_STOPPED: 'tab:orange',
              TrialState.STOPPED: 'tab:gray', TrialState.FAILED: 'tab:red'}
    for state, color in colors.items():
        pts = [(t.id, t.reward) for t in done if t.state == state]
        if pts:
            ax.scatter(*zip(*pts), color=color, label=state.lower(), s=18)
    best, curve = None, []
    for t in sorted(done, key=lambda t: t.id):
        if t.state == TrialState.COMPLETED:
            best = cfg.optimize_mode.best(
                v for v in (best, t.reward) if v is not None)
        curve.append((t.id, best))
    curve = [(i, b) for i, b in curve if b is not None]
    if curve:
        ax.step(*zip(*curve), where='post', color='black', label='best so far')
    ax.set(xlabel='trial', ylabel=cfg.reward_attribute, title='reward per trial')
    if done:
        ax.legend(fontsize=7)

    ax = axes[1]
    for t in trials:
        series = store.metric_series(t.id, cfg.reward_attribute)
        if series:
            ax.plot(*zip(*series), color=colors.get(t.state, 'tab:green'),
                    alpha=0.7, linewidth=1)
    ax.set(xlabel='step', ylabel=cfg.reward_attribute,
           title='intermediate values')

    for ax, key in zip(axes[2:], numeric):
        pts = [(flatten(t.params)[key], t.reward) for t in done
               if key in flatten(t.params)]
        if pts:
            ax.scatter(*zip(*pts), s=18)
        ax.set(xlabel=key, ylabel=cfg.reward_attribute, title=f'{key} vs reward')
        values = [p[0] for p in pts]
        if values and min(values) > 0 and max(values) / min(values) > 50:
            ax.set_xscale('log')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
