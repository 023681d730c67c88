"""Parametric learning-curve models and their weighted combination.

The twelve model families follow the curve-extrapolation assessor of Domhan,
Springenberg and Hutter (IJCAI 2015) as NNI ships them; ``x`` is the step
(epoch) number, starting at 1:

==========================  ================================================
name                        f(x)
==========================  ================================================
vap                         exp(a + b/x + c·ln x)
pow3                        c − a·x^(−alpha)
linear                      a·x + b
logx_linear                 a·ln x + b
dr_hill_zero_background     theta·x^eta / (kappa^eta + x^eta)
log_power                   a / (1 + (x / e^b)^c)
pow4                        c − (a·x + b)^(−alpha)
mmf                         alpha − (alpha − beta) / (1 + (kappa·x)^delta)
exp4                        c − exp(−a·x^alpha + b)
ilog2                       c − a / ln(x + 1)
weibull                     alpha − (alpha − beta)·exp(−(kappa·x)^delta)
janoschek                   alpha − (alpha − beta)·exp(−kappa·x^delta)
==========================  ================================================

Compared with the paper's eleven families, NNI's list (kept here) adds
``linear`` and has ``logx_linear`` (a·ln x + b) where the paper has "log log
linear", ln(a·ln x + b). ilog2 is ``c − a/ln x`` in the paper, which is
infinite at x = 1; it is evaluated one step to the right so that every model
is finite on the whole history (the combination's likelihood uses every
point).

Everything here is a pure function of its arguments: each call fits afresh
from explicit, data-derived initial guesses, a model whose fit fails is
dropped for that call only, and the random numbers of the weighting come
from a generator seeded by the caller.

Fitting and weighting run in the numba kernels of ``_numba_kernels`` (numba
is a required dependency; there is no slower fallback). This module imports
numba, so the assessors package imports it only when a prediction runs.
numba compiles the kernels on their first call after an install or an edit
(seconds to tens of seconds; a progress line says so) and keeps the compiled
code on disk, so later processes load it in about half a second.
"""
import contextlib
import math
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
from numba.core import event as numba_event

from . import _numba_kernels as kernels

# ----------------------------------------------------------------------------
# The model functions. ``x`` is an array of steps (float), the parameters are
# scalars. Overflow and invalid operations are left to produce inf/nan; the
# fitting code runs them under np.errstate and rejects non-finite results.


def vap(x, a, b, c):
    return np.exp(a + b / x + c * np.log(x))


def pow3(x, c, a, alpha):
    return c - a * x ** (-alpha)


def linear(x, a, b):
    return a * x + b


def logx_linear(x, a, b):
    return a * np.log(x) + b


def dr_hill_zero_background(x, theta, eta, kappa):
    xe = x ** eta
    return theta * xe / (kappa ** eta + xe)


def log_power(x, a, b, c):
    return a / (1.0 + (x / np.exp(b)) ** c)


def pow4(x, c, a, b, alpha):
    return c - (a * x + b) ** (-alpha)


def mmf(x, alpha, beta, kappa, delta):
    return alpha - (alpha - beta) / (1.0 + (kappa * x) ** delta)


def exp4(x, c, a, b, alpha):
    return c - np.exp(-a * x ** alpha + b)


def ilog2(x, c, a):
    return c - a / np.log(x + 1.0)


def weibull(x, alpha, beta, kappa, delta):
    return alpha - (alpha - beta) * np.exp(-(kappa * x) ** delta)


def janoschek(x, alpha, beta, kappa, delta):
    return alpha - (alpha - beta) * np.exp(-kappa * x ** delta)


# ----------------------------------------------------------------------------
# Partial derivatives, one row per parameter (in the order of the function's
# arguments). They let the solver take one Jacobian evaluation per iteration
# instead of one extra function evaluation per parameter.


def _ones(x):
    return np.ones_like(x)


def vap_jac(x, a, b, c):
    f = vap(x, a, b, c)
    return np.array([f, f / x, f * np.log(x)])


def pow3_jac(x, c, a, alpha):
    p = x ** (-alpha)
    return np.array([_ones(x), -p, a * p * np.log(x)])


def linear_jac(x, a, b):
    return np.array([x, _ones(x)])


def logx_linear_jac(x, a, b):
    return np.array([np.log(x), _ones(x)])


def dr_hill_zero_background_jac(x, theta, eta, kappa):
    u = x ** eta
    v = kappa ** eta
    d2 = (u + v) ** 2
    return np.array([u / (u + v),
                     theta * u * v * (np.log(x) - np.log(kappa)) / d2,
                     -theta * u * eta * v / kappa / d2])


def log_power_jac(x, a, b, c):
    lx = np.log(x) - b
    r = np.exp(c * lx)
    d2 = (1.0 + r) ** 2
    return np.array([1.0 / (1.0 + r), a * r * c / d2, -a * r * lx / d2])


def pow4_jac(x, c, a, b, alpha):
    s = a * x + b
    g = alpha * s ** (-alpha - 1.0)
    return np.array([_ones(x), g * x, g, s ** (-alpha) * np.log(s)])


def mmf_jac(x, alpha, beta, kappa, delta):
    q = (kappa * x) ** delta
    d2 = (1.0 + q) ** 2
    return np.array([q / (1.0 + q), 1.0 / (1.0 + q),
                     (alpha - beta) * q * delta / kappa / d2,
                     (alpha - beta) * q * np.log(kappa * x) / d2])


def exp4_jac(x, c, a, b, alpha):
    xa = x ** alpha
    e = np.exp(-a * xa + b)
    return np.array([_ones(x), e * xa, -e, e * a * xa * np.log(x)])


def ilog2_jac(x, c, a):
    return np.array([_ones(x), -1.0 / np.log(x + 1.0)])


def weibull_jac(x, alpha, beta, kappa, delta):
    q = (kappa * x) ** delta
    e = np.exp(-q)
    return np.array([1.0 - e, e, (alpha - beta) * e * delta * q / kappa,
                     (alpha - beta) * e * q * np.log(kappa * x)])


def janoschek_jac(x, alpha, beta, kappa, delta):
    xd = x ** delta
    e = np.exp(-kappa * xd)
    return np.array([1.0 - e, e, (alpha - beta) * e * xd,
                     (alpha - beta) * e * kappa * xd * np.log(x)])


# ----------------------------------------------------------------------------
# Initial guesses. Each takes the steps x (1..n), the values y and a shared
# context (the pow3 guess and an asymptote above every value, computed once
# per fit) and returns the starting point of the least-squares fit. Most are
# exact solutions of a linearised form of the model, so the fit starts close
# to its optimum and never depends on an earlier fit.


def _line(u: np.ndarray, y: np.ndarray):
    """Slope and intercept of the least-squares line of y on u."""
    du = u - u.mean()
    var = float(du @ du)
    if not var > 0:
        raise ArithmeticError('no spread to fit a line')
    slope = float(du @ (y - y.mean())) / var
    return slope, float(y.mean()) - slope * float(u.mean())


class _Context(NamedTuple):
    pow3: List[float]   # c, a, alpha of the best pow3 with a fixed exponent
    asymptote: float    # a level above every observed value
    decay: tuple        # slope, intercept of ln(asymptote − y) on x


def _context(x, y) -> _Context:
    best = None
    for alpha in (0.25, 0.5, 1.0, 2.0):
        u = x ** (-alpha)
        slope, c = _line(u, y)
        sse = float(np.sum((y - c - slope * u) ** 2))
        if best is None or sse < best[0]:
            best = (sse, [c, -slope, alpha])
    span = float(np.max(y) - np.min(y))
    if span <= 0:
        span = max(abs(float(np.mean(y))), 1.0) * 0.1
    asymptote = max(best[1][0], float(np.max(y)) + 0.05 * span)
    return _Context(best[1], asymptote, _line(x, np.log(asymptote - y)))


def _vap_guess(x, y, ctx):
    # ln y = a + b/x + c·ln x is linear in (1, 1/x, ln x).
    if np.all(y > 0):
        design = np.column_stack([np.ones_like(x), 1.0 / x, np.log(x)])
        return list(np.linalg.solve(design.T @ design, design.T @ np.log(y)))
    return [math.log(max(float(np.max(y)), 1e-3)), -1.0, 0.0]


def _pow3_guess(x, y, ctx):
    return list(ctx.pow3)


def _linear_guess(x, y, ctx):
    return list(_line(x, y))


def _logx_linear_guess(x, y, ctx):
    return list(_line(np.log(x), y))


def _hill_guess(x, y, ctx):
    # With eta = 1, 1/y = 1/theta + (kappa/theta)·(1/x) is linear in 1/x.
    if np.all(y > 0):
        slope, inv0 = _line(1.0 / x, 1.0 / y)
        if inv0 > 0 and slope > 0:
            return [1.0 / inv0, 1.0, slope / inv0]
    return [ctx.asymptote, 1.0, 1.0]


def _log_power_guess(x, y, ctx):
    # Given a, ln(a/y − 1) = c·ln x − c·b is linear in ln x.
    a = ctx.asymptote
    if np.all(y > 0):
        c, intercept = _line(np.log(x), np.log(a / y - 1))
        if c < 0:
            return [a, -intercept / c, c]
    return [a, math.log(max(float(x[-1]), 2.0) / 2.0), -1.0]


def _pow4_guess(x, y, ctx):
    # (a·x)^(−alpha) = a^(−alpha)·x^(−alpha): start on the pow3 curve.
    c, amp, alpha = ctx.pow3
    if amp > 0:
        a = amp ** (-1.0 / alpha)
        return [c, a, 1e-3 * a, alpha]
    return [ctx.asymptote, 1.0, 0.0, 0.5]


def _decay_guess(ctx):
    """alpha, beta, kappa with delta = 1: ln(alpha − y) = ln(alpha − beta)
    − kappa·x."""
    slope, intercept = ctx.decay
    kappa = -slope if slope < 0 else 0.1
    return [ctx.asymptote, ctx.asymptote - math.exp(intercept), kappa]


def _mmf_guess(x, y, ctx):
    # delta = 1 and kappa = 1 put f(1) half-way between beta and alpha.
    alpha = ctx.asymptote
    return [alpha, 2.0 * float(y[0]) - alpha, 1.0, 1.0]


def _exp4_guess(x, y, ctx):
    # alpha = 1: ln(c − y) = b − a·x.
    slope, intercept = ctx.decay
    return [ctx.asymptote, -slope, intercept, 1.0]


def _ilog2_guess(x, y, ctx):
    slope, c = _line(1.0 / np.log(x + 1.0), y)
    return [c, -slope]


def _weibull_guess(x, y, ctx):
    return _decay_guess(ctx) + [1.0]


def _janoschek_guess(x, y, ctx):
    return _decay_guess(ctx) + [1.0]


class CurveModel(NamedTuple):
    """One model family: function, parameter names, guess and Jacobian."""
    name: str
    func: Callable
    params: tuple
    guess: Callable
    jac: Callable


def _model(name: str, params: str, guess: Callable) -> CurveModel:
    """Look up the function ``name`` and its Jacobian ``name_jac``."""
    return CurveModel(name, globals()[name], tuple(params.split()), guess,
                      globals()[name + '_jac'])


MODELS: Dict[str, CurveModel] = {m.name: m for m in (
    _model('vap', 'a b c', _vap_guess),
    _model('pow3', 'c a alpha', _pow3_guess),
    _model('linear', 'a b', _linear_guess),
    _model('logx_linear', 'a b', _logx_linear_guess),
    _model('dr_hill_zero_background', 'theta eta kappa', _hill_guess),
    _model('log_power', 'a b c', _log_power_guess),
    _model('pow4', 'c a b alpha', _pow4_guess),
    _model('mmf', 'alpha beta kappa delta', _mmf_guess),
    _model('exp4', 'c a b alpha', _exp4_guess),
    _model('ilog2', 'c a', _ilog2_guess),
    _model('weibull', 'alpha beta kappa delta', _weibull_guess),
    _model('janoschek', 'alpha beta kappa delta', _janoschek_guess),
)}
MODEL_IDS = {name: i for i, name in enumerate(MODELS)}


def evaluate(name: str, x, params: Sequence[float]) -> np.ndarray:
    """Model ``name`` at steps ``x`` (non-finite where it breaks down)."""
    with np.errstate(all='ignore'):
        return MODELS[name].func(np.asarray(x, dtype=float), *params)


# ----------------------------------------------------------------------------
# Fitting.

FTOL = 1e-10   # stop when a step lowers the squared error by less than this
XTOL = 1e-8    # ... or moves every parameter by less than this (relative)
MAX_ITER = 200  # Levenberg-Marquardt iterations (Jacobians) per model


COMPILE_MESSAGE = 'compiling the curve-fitting kernels (first run only)'


class _CompileProgress(numba_event.Listener):
    """Shows :data:`COMPILE_MESSAGE` from numba's first compile on.

    numba fires a ``numba:compile`` event only when it compiles; loading
    compiled code from its on-disk cache fires none, so nothing is shown
    then.
    """

    def __init__(self):
        self.shown = contextlib.ExitStack()
        self._showing = False

    def on_start(self, event):
        if not self._showing:
            self._showing = True
            from ...utils.progress import progress_status
            self.shown.enter_context(progress_status(COMPILE_MESSAGE))

    def on_end(self, event):
        pass


_watching = False


@contextlib.contextmanager
def compile_progress():
    """Within this context, a numba compile shows a progress line, which
    stays until the context ends (one line for all the kernels a prediction
    compiles). Nested uses add nothing."""
    global _watching
    if _watching:
        yield
        return
    listener = _CompileProgress()
    _watching = True
    try:
        with listener.shown, \
                numba_event.install_listener('numba:compile', listener):
            yield
    finally:
        _watching = False


def initial_guesses(x, y, names: Optional[Sequence[str]] = None
                    ) -> Dict[str, np.ndarray]:
    """Explicit starting points for (x, y); models without one are left out.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    guesses = {}
    with np.errstate(all='ignore'):
        try:
            ctx = _context(x, y)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            return guesses
        for name in (MODELS if names is None else names):
            try:
                p0 = np.asarray(MODELS[name].guess(x, y, ctx), dtype=float)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(p0)):
                guesses[name] = p0
    return guesses


def fit_all(x, y, names: Optional[Sequence[str]] = None
            ) -> Dict[str, np.ndarray]:
    """Least-squares parameters of every model (or ``names``) on (x, y).

    Each model starts from its explicit guess (:func:`initial_guesses`) and
    is fitted by Levenberg-Marquardt with analytic derivatives (the numba
    kernel ``fit_models``). If the iteration budget runs out the best point
    reached is kept (the caller's error filter judges it). A model is left
    out when it has more parameters than there are points, has no finite
    guess, or its fit ends with non-finite parameters or fitted values.
    Nothing is kept between calls.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0 or not (np.all(np.isfinite(y)) and np.all(x > 0)):
        return {}
    names = [m for m in (MODELS if names is None else names)
             if len(MODELS[m].params) <= len(x)]
    guesses = initial_guesses(x, y, names)
    names = [m for m in names if m in guesses]
    raw = {}
    if names:
        p0s = np.zeros((len(names), 4))
        for i, name in enumerate(names):
            p0s[i, :len(guesses[name])] = guesses[name]
        mids = np.array([MODEL_IDS[m] for m in names], dtype=np.int64)
        with compile_progress():
            params, status = kernels.fit_models(mids, x, y, p0s, MAX_ITER,
                                                FTOL, XTOL)
        for i, name in enumerate(names):
            if status[i] > 0:
                raw[name] = params[i, :len(MODELS[name].params)].copy()
    fits = {}
    for name, params in raw.items():
        if (np.all(np.isfinite(params))
                and np.all(np.isfinite(evaluate(name, x, params)))):
            fits[name] = params
    return fits


def fit_model(name: str, x, y) -> Optional[np.ndarray]:
    """Least-squares parameters of one model (see :func:`fit_all`), or None.
    """
    return fit_all(x, y, [name]).get(name)


# ----------------------------------------------------------------------------
# The weighted combination and its Metropolis-Hastings weighting.


def mh_weights(F, y, f_first, f_end, steps, log_u):
    """Final weights of each Metropolis-Hastings chain (chains × models).

    ``F`` is models × points (each model at x = 1..n), ``f_first`` and
    ``f_end`` the models at x = 1 and at the target step; ``steps`` holds the
    Gaussian proposal increments (chains × iterations × models) and ``log_u``
    the log-uniforms of the acceptance tests (chains × iterations). Runs the
    numba kernel ``mh_chains``.
    """
    args = [np.ascontiguousarray(a, dtype=float)
            for a in (F, y, f_first, f_end, steps, log_u)]
    with compile_progress():
        return kernels.mh_chains(*args)


def mcmc_predict(F, y, f_first, f_end, rng: np.random.Generator,
                 chains: int = 10, iterations: int = 20,
                 step_size: float = 0.0005) -> float:
    """Mean over chains of the combination Σ wᵢ·fᵢ(target) (final weights).

    Metropolis-Hastings over the weights: uniform start, Gaussian proposal
    with standard deviation ``step_size`` per weight, renormalised to sum 1;
    prior 1 iff every weight is positive and the combined curve rises
    (f(1) < f(target)); Gaussian likelihood whose variance is the mean
    squared error of the combination on the history. When even the uniform
    start breaks the prior (a flat or falling combination) and no proposal
    repairs it, the chain stays at uniform weights.
    """
    k = F.shape[0]
    steps = rng.normal(0.0, step_size, size=(chains, iterations, k))
    log_u = np.log(rng.random(size=(chains, iterations)))
    weights = mh_weights(F, y, f_first, f_end, steps, log_u)
    return float(np.mean(weights @ np.asarray(f_end, dtype=float)))


class Prediction(NamedTuple):
    """What :func:`predict_final` found (value None: no prediction)."""
    value: Optional[float]
    models: List[str]   # the models that survived both filters
    fitted: List[str]   # the models whose fit succeeded


def predict_final(history: Sequence[float], target: int, seed: int = 0,
                  min_models: int = 4, chains: int = 10, iterations: int = 20,
                  step_size: float = 0.0005) -> Prediction:
    """Predict the value at step ``target`` from ``history`` (steps 1..n).

    1. Fit every model to the history (values divided by their largest
       magnitude, so guesses and tolerances do not depend on the metric's
       scale; the prediction is scaled back).
    2. Keep models whose sum of squared errors is < n·mean(y)², then those
       whose prediction at ``target`` lies within median ± (n/10)·std of the
       kept models' predictions at ``target``.
    3. Fewer than ``min_models`` left: no prediction.
    4. Weight the survivors by Metropolis-Hastings (:func:`mcmc_predict`)
       with a generator seeded from (seed, n), so the same history always
       gives the same prediction, whatever else ran before.
    """
    with compile_progress():
        return _predict(history, target, seed, min_models, chains,
                        iterations, step_size)


def _predict(history, target, seed, min_models, chains, iterations,
             step_size) -> Prediction:
    y = np.asarray(history, dtype=float)
    n = len(y)
    if n == 0 or not np.all(np.isfinite(y)):
        return Prediction(None, [], [])
    scale = float(np.max(np.abs(y)))
    if scale == 0:
        scale = 1.0
    y = y / scale
    x = np.arange(1, n + 1, dtype=float)
    fits = fit_all(x, y)
    sse_limit = n * float(np.mean(y)) ** 2
    kept = {}
    for name, params in fits.items():
        sse = float(np.sum((evaluate(name, x, params) - y) ** 2))
        end = float(evaluate(name, [float(target)], params)[0])
        if sse < sse_limit and math.isfinite(end):
            kept[name] = end
    if len(kept) < min_models:
        return Prediction(None, list(kept), list(fits))
    ends = np.array(list(kept.values()))
    median = float(np.median(ends))
    radius = n / 10.0 * float(np.std(ends))
    radius += 1e-12 * max(1.0, abs(median))  # identical predictions survive
    names = [m for m, e in kept.items() if abs(e - median) <= radius]
    if len(names) < min_models:
        return Prediction(None, names, list(fits))
    F = np.array([evaluate(m, x, fits[m]) for m in names])
    f_end = np.array([kept[m] for m in names])
    rng = np.random.default_rng([seed, n])
    value = mcmc_predict(F, y, F[:, 0], f_end, rng, chains, iterations,
                         step_size)
    return Prediction(value * scale, names, list(fits))
