"""numba kernels for curve_models: Levenberg-Marquardt fits of the curve
models and the Metropolis-Hastings weighting of their combination.

Imported only when a prediction runs, so importing the assessors does not
import numba. Compiled code is cached on disk (numba's ``cache=True``: in
``__pycache__`` next to this file, or numba's user cache directory when that
is not writable): the first compile takes 5-10 s on a busy 2-core machine,
loading the cache in a later process 0.3-0.5 s. Model ids are the positions
in ``curve_models.MODELS``; the formulas are those of the numpy functions
there (tests check that they agree). Division by zero and invalid
operations give inf/nan (numpy error model) and are rejected by the callers,
never raised. Few, large functions: numba's compile time grows with the
number of functions more than with their length.
"""
import numba
import numpy as np

_JIT = dict(cache=True, error_model='numpy', nogil=True)
N_PARAMS = np.array([3, 3, 2, 2, 3, 3, 4, 4, 4, 2, 4, 4])


@numba.njit(**_JIT)
def point(mid, x, p, g):
    """Model ``mid`` at step x; its partial derivatives go into g."""
    if mid == 0:
        f = np.exp(p[0] + p[1] / x + p[2] * np.log(x))
        g[0] = f
        g[1] = f / x
        g[2] = f * np.log(x)
        return f
    if mid == 1:
        q = x ** (-p[2])
        g[0] = 1.0
        g[1] = -q
        g[2] = p[1] * q * np.log(x)
        return p[0] - p[1] * q
    if mid == 2:
        g[0] = x
        g[1] = 1.0
        return p[0] * x + p[1]
    if mid == 3:
        g[0] = np.log(x)
        g[1] = 1.0
        return p[0] * g[0] + p[1]
    if mid == 4:
        u = x ** p[1]
        v = p[2] ** p[1]
        d2 = (u + v) ** 2
        g[0] = u / (u + v)
        g[1] = p[0] * u * v * (np.log(x) - np.log(p[2])) / d2
        g[2] = -p[0] * u * p[1] * v / p[2] / d2
        return p[0] * g[0]
    if mid == 5:
        lx = np.log(x) - p[1]
        r = np.exp(p[2] * lx)
        d2 = (1.0 + r) ** 2
        g[0] = 1.0 / (1.0 + r)
        g[1] = p[0] * r * p[2] / d2
        g[2] = -p[0] * r * lx / d2
        return p[0] * g[0]
    if mid == 6:
        s = p[1] * x + p[2]
        q = s ** (-p[3])
        h = p[3] * q / s
        g[0] = 1.0
        g[1] = h * x
        g[2] = h
        g[3] = q * np.log(s)
        return p[0] - q
    if mid == 7:
        q = (p[2] * x) ** p[3]
        d2 = (1.0 + q) ** 2
        g[0] = q / (1.0 + q)
        g[1] = 1.0 / (1.0 + q)
        g[2] = (p[0] - p[1]) * q * p[3] / p[2] / d2
        g[3] = (p[0] - p[1]) * q * np.log(p[2] * x) / d2
        return p[0] - (p[0] - p[1]) * g[1]
    if mid == 8:
        xa = x ** p[3]
        e = np.exp(-p[1] * xa + p[2])
        g[0] = 1.0
        g[1] = e * xa
        g[2] = -e
        g[3] = e * p[1] * xa * np.log(x)
        return p[0] - e
    if mid == 9:
        g[0] = 1.0
        g[1] = -1.0 / np.log(x + 1.0)
        return p[0] + p[1] * g[1]
    if mid == 10:
        q = (p[2] * x) ** p[3]
        e = np.exp(-q)
        g[0] = 1.0 - e
        g[1] = e
        g[2] = (p[0] - p[1]) * e * p[3] * q / p[2]
        g[3] = (p[0] - p[1]) * e * q * np.log(p[2] * x)
        return p[0] - (p[0] - p[1]) * e
    xd = x ** p[3]
    e = np.exp(-p[2] * xd)
    g[0] = 1.0 - e
    g[1] = e
    g[2] = (p[0] - p[1]) * e * xd
    g[3] = (p[0] - p[1]) * e * p[2] * xd * np.log(x)
    return p[0] - (p[0] - p[1]) * e


@numba.njit(**_JIT)
def fit_models(mids, xs, ys, p0s, max_iter, ftol, xtol):
    """Levenberg-Marquardt least squares of each model in ``mids``.

    Row i of ``p0s`` (padded to 4) is the start of model ``mids[i]``.
    Damped normal equations (JᵀJ + λ·diag(JᵀJ))·δ = −Jᵀr solved by
    Cholesky; λ shrinks tenfold after a step that lowers the squared error
    and grows tenfold until one does. Stops when a step lowers the error by
    less than ``ftol`` (relative), moves every parameter by less than
    ``xtol`` (relative), or no step helps. Returns the parameters and a
    status per model: 1 converged, 2 iteration budget spent (best point
    kept), 0 the start was not finite (row left nan).
    """
    n = xs.shape[0]
    out = np.full((mids.shape[0], 4), np.nan)
    status = np.zeros(mids.shape[0], dtype=np.int64)
    g = np.zeros(4)
    a = np.zeros((4, 4))
    lo = np.zeros((4, 4))
    b = np.zeros(4)
    z = np.zeros(4)
    step = np.zeros(4)
    trial = np.zeros(4)
    for i in range(mids.shape[0]):
        mid = mids[i]
        k = N_PARAMS[mid]
        p = p0s[i].copy()
        cost = 0.0
        for j in range(n):
            r = point(mid, xs[j], p, g) - ys[j]
            cost += r * r
        if not np.isfinite(cost):
            continue
        lam = 1e-3
        st = 2
        for _ in range(max_iter):
            a[:, :] = 0.0
            b[:] = 0.0
            for j in range(n):
                r = point(mid, xs[j], p, g) - ys[j]
                for u in range(k):
                    if not np.isfinite(g[u]):
                        g[u] = 0.0
                for u in range(k):
                    b[u] -= g[u] * r
                    for v in range(u + 1):
                        a[u, v] += g[u] * g[v]
            improved = False
            done = False
            while lam < 1e16:
                # Cholesky of the damped normal matrix, lower triangle.
                ok = True
                for u in range(k):
                    for v in range(u + 1):
                        s = a[u, v]
                        if u == v:
                            s += lam * max(a[u, u], 1e-12)
                        for w in range(v):
                            s -= lo[u, w] * lo[v, w]
                        if u == v:
                            if not s > 0.0:
                                ok = False
                                break
                            lo[u, u] = np.sqrt(s)
                        else:
                            lo[u, v] = s / lo[v, v]
                    if not ok:
                        break
                if not ok:
                    lam *= 10.0
                    continue
                for u in range(k):
                    s = b[u]
                    for w in range(u):
                        s -= lo[u, w] * z[w]
                    z[u] = s / lo[u, u]
                for u in range(k - 1, -1, -1):
                    s = z[u]
                    for w in range(u + 1, k):
                        s -= lo[w, u] * step[w]
                    step[u] = s / lo[u, u]
                for u in range(k):
                    trial[u] = p[u] + step[u]
                new = 0.0
                for j in range(n):
                    r = point(mid, xs[j], trial, g) - ys[j]
                    new += r * r
                if new < cost:
                    small = True
                    for u in range(k):
                        if abs(step[u]) > xtol * (abs(p[u]) + xtol):
                            small = False
                    done = (cost - new) <= ftol * cost or small or new == 0.0
                    for u in range(k):
                        p[u] = trial[u]
                    cost = new
                    lam = max(lam * 0.1, 1e-12)
                    improved = True
                    break
                lam *= 10.0
            if done or not improved:
                st = 1
                break
        out[i] = p
        status[i] = st
    return out, status


@numba.njit(**_JIT)
def mh_chains(F, y, f_first, f_end, steps, log_u):
    """Final weights of each Metropolis-Hastings chain (chains x models).

    The algorithm of ``curve_models.mcmc_predict`` (tests/hpo/
    test_assessors.py holds a numpy version to check it): log posterior -inf
    unless every weight is positive and w·f_first < w·f_end, otherwise the
    Gaussian log likelihood with variance = MSE of the combination.
    """
    chains, iters, k = steps.shape
    n = F.shape[1]
    out = np.empty((chains, k))
    w = np.empty(k)
    prop = np.empty(k)
    for c in range(chains):
        for i in range(k):
            w[i] = 1.0 / k
        cur = -np.inf
        for t in range(-1, iters):
            # t = -1 scores the uniform start itself.
            total = 0.0
            for i in range(k):
                prop[i] = w[i] + (steps[c, t, i] if t >= 0 else 0.0)
                total += prop[i]
            if total <= 0.0:
                continue
            allowed = True
            first = 0.0
            end = 0.0
            for i in range(k):
                prop[i] /= total
                if prop[i] <= 0.0:
                    allowed = False
                first += prop[i] * f_first[i]
                end += prop[i] * f_end[i]
            new = -np.inf
            if allowed and first < end:
                sse = 0.0
                for j in range(n):
                    comb = 0.0
                    for i in range(k):
                        comb += prop[i] * F[i, j]
                    sse += (y[j] - comb) ** 2
                mse = max(sse / n, 1e-300)
                new = -0.5 * n * (np.log(2.0 * np.pi * mse) + 1.0)
            if t < 0:
                cur = new
                continue
            if new == -np.inf:
                continue
            if cur == -np.inf or log_u[c, t] < new - cur:
                for i in range(k):
                    w[i] = prop[i]
                cur = new
        for i in range(k):
            out[c, i] = w[i]
    return out
