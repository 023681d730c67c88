"""numba kernel of the Metropolis-Hastings weighting in curve_models.

Imported only when a prediction runs, so that importing the assessors does
not import numba. Same algorithm and results as
:func:`curve_models.mh_weights_numpy`, without the Python loop overhead.
"""
import numba
import numpy as np


@numba.njit(cache=True)
def log_posterior(w, F, y, f_first, f_end):
    """Log posterior of weights w; -inf where the prior is 0."""
    k, n = F.shape
    first = 0.0
    end = 0.0
    for i in range(k):
        if w[i] <= 0.0:
            return -np.inf
        first += w[i] * f_first[i]
        end += w[i] * f_end[i]
    if not first < end:
        return -np.inf
    sse = 0.0
    for j in range(n):
        comb = 0.0
        for i in range(k):
            comb += w[i] * F[i, j]
        sse += (y[j] - comb) ** 2
    mse = max(sse / n, 1e-300)
    return -0.5 * n * (np.log(2.0 * np.pi * mse) + 1.0)


@numba.njit(cache=True)
def mh_chains(F, y, f_first, f_end, steps, log_u):
    """Final weights of each chain (chains x models)."""
    chains, iters, k = steps.shape
    out = np.empty((chains, k))
    prop = np.empty(k)
    for c in range(chains):
        w = np.full(k, 1.0 / k)
        cur = log_posterior(w, F, y, f_first, f_end)
        for t in range(iters):
            total = 0.0
            for i in range(k):
                prop[i] = w[i] + steps[c, t, i]
                total += prop[i]
            if total <= 0.0:
                continue
            for i in range(k):
                prop[i] /= total
            new = log_posterior(prop, F, y, f_first, f_end)
            if new == -np.inf:
                continue
            if cur == -np.inf or log_u[c, t] < new - cur:
                w = prop.copy()
                cur = new
        out[c] = w
    return out
