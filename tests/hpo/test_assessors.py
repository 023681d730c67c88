"""Numeric tests of the early-stopping assessors and the curve models."""
import math

import numba
import numpy as np
import pytest
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher

from gml.errors import ConfigError
from gml.search.assessors import (ASSESSORS, Assessor, CurveFittingAssessor,
                                  MedianStopAssessor)
from gml.search.assessors import _numba_kernels as kernels
from gml.search.assessors import curve_models as cm

NAN = float('nan')

# ---------------------------------------------------------------------------
# Curve models

# (model, parameters, x, value worked out by hand from the formula)
HAND_POINTS = [
    # exp(0.1 - 0.5/2 + 0.2 ln 2) = exp(-0.011370563888)
    ('vap', (0.1, -0.5, 0.2), 2.0, 0.9886938366522907),
    # 0.9 - 0.6 / sqrt(2)
    ('pow3', (0.9, 0.6, 0.5), 2.0, 0.4757359312880715),
    # 0.05 * 2 + 0.3
    ('linear', (0.05, 0.3), 2.0, 0.4),
    # 0.2 ln 2 + 0.5
    ('logx_linear', (0.2, 0.5), 2.0, 0.6386294361119891),
    # 0.9 * 2^2 / (3^2 + 2^2) = 3.6 / 13
    ('dr_hill_zero_background', (0.9, 2.0, 3.0), 2.0, 3.6 / 13),
    # 0.9 / (1 + (2/e)^-2) = 0.9 / (1 + e^2/4)
    ('log_power', (0.9, 1.0, -2.0), 2.0, 0.9 / (1 + math.e ** 2 / 4)),
    # 0.9 - (0.5*2 + 1)^-0.5 = 0.9 - 1/sqrt(2)
    ('pow4', (0.9, 0.5, 1.0, 0.5), 2.0, 0.19289321881345245),
    # 0.9 - 0.8 / (1 + (0.5*2)^2) = 0.9 - 0.4
    ('mmf', (0.9, 0.1, 0.5, 2.0), 2.0, 0.5),
    # 0.9 - exp(-0.5*2 + 0.2) = 0.9 - exp(-0.8)
    ('exp4', (0.9, 0.5, 0.2, 1.0), 2.0, 0.45067103588277846),
    # 0.9 - 0.2 / ln(2 + 1)
    ('ilog2', (0.9, 0.2), 2.0, 0.7179521546746326),
    # ilog2 is shifted one step: finite at x = 1, 0.9 - 0.2 / ln 2
    ('ilog2', (0.9, 0.2), 1.0, 0.6114609918222074),
    # 0.9 - 0.8 exp(-(0.5*2)^2) = 0.9 - 0.8/e
    ('weibull', (0.9, 0.1, 0.5, 2.0), 2.0, 0.9 - 0.8 / math.e),
    # 0.9 - 0.8 exp(-0.5 * 2^2) = 0.9 - 0.8/e^2
    ('janoschek', (0.9, 0.1, 0.5, 2.0), 2.0, 0.9 - 0.8 / math.e ** 2),
]


def test_twelve_models():
    assert list(cm.MODELS) == [
        'vap', 'pow3', 'linear', 'logx_linear', 'dr_hill_zero_background',
        'log_power', 'pow4', 'mmf', 'exp4', 'ilog2', 'weibull', 'janoschek']


@pytest.mark.parametrize('name,params,x,expected', HAND_POINTS)
def test_model_values_by_hand(name, params, x, expected):
    assert cm.evaluate(name, [x], params)[0] == pytest.approx(expected,
                                                              rel=1e-12)


@pytest.mark.parametrize('name,params,x,expected', HAND_POINTS)
def test_jacobian_matches_finite_differences(name, params, x, expected):
    xs = np.array([1.0, 2.0, 3.5, 7.0])
    jac = cm.MODELS[name].jac(xs, *params)
    for i in range(len(params)):
        h = 1e-6 * max(1.0, abs(params[i]))
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        numeric = (cm.evaluate(name, xs, up) - cm.evaluate(name, xs, down)) \
            / (2 * h)
        np.testing.assert_allclose(jac[i], numeric, rtol=1e-5, atol=1e-8)


def test_kernels_are_compiled_numba_functions():
    # numba is a required dependency: the kernels must be numba's compiled
    # dispatchers, not the plain Python functions a missing or disabled
    # numba (NUMBA_DISABLE_JIT=1) would leave, and they cache to disk.
    for kernel in (kernels.point, kernels.fit_models, kernels.mh_chains):
        assert isinstance(kernel, CPUDispatcher), kernel
        assert isinstance(kernel._cache, FunctionCache), kernel  # not Null
    assert cm.kernels is kernels


def test_predictions_run_in_the_numba_kernels(monkeypatch):
    calls = []

    class Spy:
        def __getattr__(self, name):
            kernel = getattr(kernels, name)

            def call(*args):
                calls.append(name)
                return kernel(*args)
            return call

    monkeypatch.setattr(cm, 'kernels', Spy())
    history = list(cm.pow3(np.arange(1, 11.0), 0.9, 0.6, 0.7))
    assert cm.predict_final(history, 20).value == pytest.approx(0.9 - 0.6 *
                                                                20 ** -0.7,
                                                                rel=0.05)
    assert calls == ['fit_models', 'mh_chains']
    # compiled for the argument types the callers pass: no fallback ran
    assert kernels.fit_models.signatures and kernels.mh_chains.signatures


def test_compile_progress_shows_only_while_numba_compiles(capsys):
    @numba.njit
    def add_one(v):
        return v + 1

    with cm.compile_progress():
        assert add_one(1) == 2          # compiles now
    err = capsys.readouterr().err
    assert f'{cm.COMPILE_MESSAGE} ...' in err
    assert f'{cm.COMPILE_MESSAGE}: done in ' in err
    with cm.compile_progress():
        assert add_one(2) == 3          # already compiled: nothing shown
    history = list(cm.pow3(np.arange(1, 11.0), 0.9, 0.6, 0.7))
    cm.predict_final(history, 20)       # compiled or loaded by now
    cm.predict_final(history, 20)
    assert capsys.readouterr().err == ''


def test_numba_kernel_matches_numpy_models():
    xs = [1.0, 2.0, 3.5, 7.0]
    grad = np.zeros(4)
    for name, params, _, _ in HAND_POINTS:
        p = np.zeros(4)
        p[:len(params)] = params
        jac = cm.MODELS[name].jac(np.array(xs), *params)
        for j, x in enumerate(xs):
            value = kernels.point(cm.MODEL_IDS[name], x, p, grad)
            assert value == pytest.approx(cm.evaluate(name, [x], params)[0],
                                          rel=1e-12)
            np.testing.assert_allclose(grad[:len(params)], jac[:, j],
                                       rtol=1e-10, atol=1e-14)


def test_fit_recovers_noiseless_pow3_and_exp4():
    # zero residual at the generating parameters: they are the optimum
    x = np.arange(1, 11, dtype=float)
    pow3 = cm.fit_model('pow3', x, cm.pow3(x, 0.9, 0.6, 0.7))
    np.testing.assert_allclose(pow3, [0.9, 0.6, 0.7], rtol=1e-4)
    exp4 = cm.fit_model('exp4', x, cm.exp4(x, 0.9, 0.4, -0.5, 0.8))
    np.testing.assert_allclose(exp4, [0.9, 0.4, -0.5, 0.8], rtol=1e-4)


def test_fit_matches_numpy_least_squares_on_noisy_curves():
    rng = np.random.default_rng(0)
    x = np.arange(1, 16, dtype=float)
    y = cm.pow3(x, 0.9, 0.6, 0.7) + rng.normal(0, 0.01, x.size)
    # linear in its parameters: the exact optimum is numpy's lstsq
    for name, u in (('linear', x), ('logx_linear', np.log(x))):
        design = np.column_stack([u, np.ones_like(x)])
        exact = np.linalg.lstsq(design, y, rcond=None)[0]
        np.testing.assert_allclose(cm.fit_model(name, x, y), exact,
                                   rtol=1e-6)
    # nonlinear: at a least-squares optimum the gradient of the squared
    # error, 2·J·r (numpy Jacobian), vanishes, and no nearby point is lower.
    # (weibull is left out: on this curve it drifts towards exp4's optimum
    # through an ill-conditioned valley and spends its iteration budget,
    # which fit_all accepts by design.)
    for name in ('vap', 'pow3', 'pow4', 'mmf', 'exp4', 'janoschek'):
        params = cm.fit_model(name, x, y)
        residual = cm.evaluate(name, x, params) - y
        sse = float(residual @ residual)
        gradient = 2 * cm.MODELS[name].jac(x, *params) @ residual
        assert np.max(np.abs(gradient)) < 1e-6, (name, gradient)
        for i in range(len(params)):
            for h in (-1e-3, 1e-3):
                moved = params.copy()
                moved[i] += h * max(1.0, abs(moved[i]))
                other = cm.evaluate(name, x, moved) - y
                assert float(other @ other) >= sse, (name, i, h)


def test_fit_drops_models_it_cannot_fit():
    x = np.arange(1, 4, dtype=float)
    fits = cm.fit_all(x, [0.2, 0.5, 0.6])
    # three points: no four-parameter model, the others fit
    assert set(fits) == {'vap', 'pow3', 'linear', 'logx_linear',
                         'dr_hill_zero_background', 'log_power', 'ilog2'}
    assert cm.fit_all(x, [0.2, NAN, 0.6]) == {}


@pytest.mark.parametrize('curve', [
    cm.pow3(np.arange(1, 21.0), 0.9, 0.6, 0.7),
    cm.exp4(np.arange(1, 21.0), 0.92, 0.35, -0.3, 0.8),
    cm.janoschek(np.arange(1, 21.0), 0.95, 0.2, 0.35, 0.9)])
def test_prediction_of_noiseless_saturating_curve(curve):
    # The combination is close to the mean of the surviving models; models
    # that keep rising (vap, pow3, logx_linear) pull it up a little, so the
    # error shrinks as the history grows.
    for n, tolerance in ((10, 0.05), (14, 0.03)):
        prediction = cm.predict_final(curve[:n], 20)
        assert len(prediction.models) >= 4
        assert prediction.value == pytest.approx(curve[-1], rel=tolerance)
    # on another scale (percent) the prediction scales with it
    percent = cm.predict_final(100 * curve[:10], 20)
    assert percent.value == pytest.approx(
        100 * cm.predict_final(curve[:10], 20).value, rel=1e-6)


def _log_posterior(w, F, y, f_first, f_end):
    """Log posterior of weights w: -inf outside the prior (a weight <= 0, or
    a combination that does not rise), else the Gaussian log likelihood
    whose variance is the mean squared error of the combination."""
    if np.any(w <= 0) or not float(w @ f_first) < float(w @ f_end):
        return -math.inf
    mse = max(float(np.mean((y - w @ F) ** 2)), 1e-300)
    return -0.5 * len(y) * (math.log(2 * math.pi * mse) + 1.0)


def mh_weights_numpy(F, y, f_first, f_end, steps, log_u):
    """Metropolis-Hastings over the weights written directly in numpy, to
    check the numba kernel: uniform start, proposal w + step renormalised
    to sum 1, accepted when log u < new - current."""
    chains, iters, k = steps.shape
    out = np.empty((chains, k))
    for c in range(chains):
        w = np.full(k, 1.0 / k)
        cur = _log_posterior(w, F, y, f_first, f_end)
        for t in range(iters):
            prop = w + steps[c, t]
            if prop.sum() <= 0:
                continue
            prop = prop / prop.sum()
            new = _log_posterior(prop, F, y, f_first, f_end)
            if new == -math.inf:
                continue
            if cur == -math.inf or log_u[c, t] < new - cur:
                w, cur = prop, new
        out[c] = w
    return out


def test_mcmc_kernel_matches_numpy_and_respects_prior():
    rng = np.random.default_rng(3)
    x = np.arange(1, 9, dtype=float)
    F = np.array([1 - 0.5 / x, 1 - 0.6 / x ** 0.8, 0.6 + 0.04 * x])
    y = 1 - 0.55 / x
    steps = rng.normal(0, 0.05, size=(10, 20, 3))
    log_u = np.log(rng.random(size=(10, 20)))
    f_end = F[:, -1]
    a = cm.mh_weights(F, y, F[:, 0], f_end, steps, log_u)
    b = mh_weights_numpy(F, y, F[:, 0], f_end, steps, log_u)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # the chains moved (a kernel that ignored its proposals would pass the
    # checks below with uniform weights)
    assert np.abs(a - 1 / 3).max() > 0.01
    assert np.all(a > 0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    # a falling combination breaks the prior: chains stay at uniform weights
    falling = cm.mh_weights(F[:, ::-1], y, F[:, -1], F[:, 0], steps, log_u)
    np.testing.assert_allclose(falling, np.full((10, 3), 1 / 3))


def test_prediction_is_a_pure_function_of_the_history():
    x = np.arange(1, 21, dtype=float)
    history = list(cm.pow3(x, 0.9, 0.6, 0.7)[:8])
    first = cm.predict_final(history, 20).value
    cm.predict_final([0.1, 0.5, 0.2, 0.9, 0.1, 0.4, 0.3, 0.5], 20)
    cm.predict_final([0.0] * 8, 20)
    assert cm.predict_final(history, 20).value == first


# ---------------------------------------------------------------------------
# CurveFittingAssessor

X = np.arange(1, 21, dtype=float)
GOOD = list(cm.pow3(X, 0.96, 0.5, 0.8))        # ends at 0.92
CLOSE = list(cm.pow3(X, 0.95, 0.5, 0.8))       # ends at 0.90: > 0.95 × 0.92
BAD = list(cm.pow3(X, 0.55, 0.3, 0.9))         # ends at 0.53


def completed(assessor, trial_id, curve):
    for n in range(1, len(curve) + 1):
        assessor.assess(trial_id, curve[:n])
    assessor.trial_end(trial_id, list(curve), True)


def decisions(assessor, trial_id, curve):
    return [assessor.assess(trial_id, curve[:n])
            for n in range(1, len(curve) + 1)]


def test_curve_fitting_defaults_and_registry():
    a = ASSESSORS.build({'type': 'CurveFittingAssessor'}, 'scheduler.assessor')
    assert isinstance(a, Assessor)
    assert (a.optimize_mode, a.start_step, a.epoch_num, a.threshold, a.gap,
            a.seed) == ('maximize', 6, 20, 0.95, 1, 0)
    b = ASSESSORS.build({'type': 'CurveFittingAssessor', 'optimize_mode':
                         'max', 'start_step': 3, 'epoch_num': 10},
                        'scheduler.assessor')
    assert (b.start_step, b.epoch_num) == (3, 10)


@pytest.mark.parametrize('mode', ['minimize', 'min'])
def test_curve_fitting_rejects_minimize(mode):
    with pytest.raises(ConfigError, match=r'scheduler\.assessor\.optimize_mode'
                       r': CurveFittingAssessor only supports maximize'):
        ASSESSORS.build({'type': 'CurveFittingAssessor',
                         'optimize_mode': mode}, 'scheduler.assessor')


# Each message names the key, what was expected and what was found.
@pytest.mark.parametrize('cfg,message', [
    ({'epoch_num': 0}, r'^scheduler\.assessor\.epoch_num: expected an '
     r'integer >= 1, found 0$'),
    ({'gap': 0}, r'^scheduler\.assessor\.gap: expected an integer >= 1, '
     r'found 0$'),
    ({'threshold': -1}, r'^scheduler\.assessor\.threshold: expected a '
     r'finite number > 0, found -1$'),
    ({'threshold': 'x'}, r'^scheduler\.assessor\.threshold: expected a '
     r"finite number > 0, found 'x'$"),
    ({'start_step': 30}, r'^scheduler\.assessor\.start_step: 30 is after '
     r'epoch_num 20, so no trial would ever be judged$'),
    ({'seed': -1}, r'^scheduler\.assessor\.seed: expected an integer >= 0, '
     r'found -1$'),
    ({'chains': 3}, r'^scheduler\.assessor: CurveFittingAssessor does not '
     r'take chains; it takes epoch_num, gap, optimize_mode, seed, '
     r'start_step, threshold$')])
def test_curve_fitting_rejects_bad_config(cfg, message):
    with pytest.raises(ConfigError, match=message):
        ASSESSORS.build(dict(type='CurveFittingAssessor', **cfg),
                        'scheduler.assessor')


def test_stop_iff_prediction_at_most_threshold_times_best():
    # NNI's rule, with its documented example: threshold 0.95 and a best
    # completed final value of 0.9 stop a trial whose prediction is
    # <= 0.95 x 0.9 = 0.855; anything above goes on
    a = CurveFittingAssessor(start_step=1)
    a.trial_end(0, [0.5, 0.9], True)
    limit = a.threshold * a.best_final
    assert limit == pytest.approx(0.855, rel=1e-15)
    for prediction, keep in ((limit, False), (0.8549, False),
                             (math.nextafter(limit, 1.0), True),
                             (0.86, True)):
        a.predict = lambda history, value=prediction: value
        assert a.assess(1, [0.1]) is keep, prediction
        a.trial_end(1, [0.1], False)


def test_good_before_any_trial_completed():
    a = CurveFittingAssessor()
    assert all(decisions(a, 1, BAD))
    a.trial_end(1, BAD, False)          # stopped or failed: still no best
    assert a.best_final is None
    assert all(decisions(a, 2, BAD))


def test_bad_curve_stopped_good_curve_kept():
    a = CurveFittingAssessor()
    completed(a, 0, GOOD)
    assert a.best_final == pytest.approx(GOOD[-1])
    assert a.predict(BAD[:6]) < 0.95 * GOOD[-1]
    assert decisions(a, 1, BAD[:6]) == [True] * 5 + [False]
    assert all(decisions(a, 2, CLOSE))
    assert a.predict(CLOSE[:10]) == pytest.approx(CLOSE[-1], abs=0.01)


def test_start_step_and_gap():
    a = CurveFittingAssessor(start_step=4, gap=3)
    completed(a, 0, GOOD)
    judged = []
    a.predict = lambda history: judged.append(len(history)) or 0.0
    result = decisions(a, 1, BAD[:12])
    assert judged == [4, 7, 10]
    assert result == [n not in (4, 7, 10) for n in range(1, 13)]
    # gap is counted per trial: another trial is judged on its own schedule
    judged.clear()
    decisions(a, 2, BAD[:5])
    assert judged == [4]


def test_no_prediction_means_good():
    a = CurveFittingAssessor(start_step=3)
    completed(a, 0, GOOD)
    # all zeros: no model passes SSE < n·mean(y)², so no prediction
    assert a.predict([0.0] * 6) is None
    assert all(decisions(a, 1, [0.0] * 6))
    # a NaN value stops the trial once it is judged
    assert decisions(a, 2, [0.1, 0.2, NAN]) == [True, True, False]


def test_best_final_is_keyed_by_trial():
    a = CurveFittingAssessor()
    decisions(a, 1, GOOD[:8])
    decisions(a, 2, BAD[:8])            # the most recently assessed trial
    a.trial_end(1, GOOD, True)          # trial 1 ends, not trial 2
    assert a.best_final == pytest.approx(GOOD[-1])
    a.trial_end(2, BAD[:8], False)
    assert a.best_final == pytest.approx(GOOD[-1])


def test_interleaved_trials_decide_as_alone():
    curves = {1: BAD, 2: CLOSE, 3: [0.0] * 20, 4: GOOD[:3] + [NAN] * 17}

    def alone(tid):
        a = CurveFittingAssessor(gap=2)
        completed(a, 0, GOOD)
        return decisions(a, tid, curves[tid])

    expected = {tid: alone(tid) for tid in curves}
    a = CurveFittingAssessor(gap=2)
    completed(a, 0, GOOD)
    got = {tid: [] for tid in curves}
    for n in range(1, 21):
        for tid in (3, 1, 4, 2):        # the failing fits run in between
            got[tid].append(a.assess(tid, curves[tid][:n]))
    assert got == expected
    assert expected[1][5] is False and all(expected[2])


def test_resume_rebuilds_state_from_trial_end():
    a = CurveFittingAssessor()
    completed(a, 0, CLOSE)
    completed(a, 1, GOOD)
    a.trial_end(2, BAD[:6], False)
    b = CurveFittingAssessor()
    for tid, hist, ok in ((0, CLOSE, True), (1, GOOD, True),
                          (2, BAD[:6], False)):
        b.trial_end(tid, hist, ok)
    assert b.best_final == a.best_final
    assert decisions(b, 3, BAD[:8]) == decisions(a, 3, BAD[:8])


# ---------------------------------------------------------------------------
# MedianStopAssessor

# running averages at step 2: 1.5, 3, 4, 5
DONE = {1: [1, 2, 3], 2: [2, 4, 6], 3: [3, 5, 7], 4: [4, 6, 8]}


def median_stop(mode='maximize', trials=(1, 2, 3), **kw):
    kw.setdefault('n_startup_trials', 0)
    a = MedianStopAssessor(optimize_mode=mode, **kw)
    for tid in trials:
        a.trial_end(tid, DONE[tid], True)
    return a


def test_median_stop_defaults_and_registry():
    a = ASSESSORS.build({'type': 'MedianStopAssessor'}, 'scheduler.assessor')
    assert (a.optimize_mode, a.start_step, a.n_startup_trials, a.n_min_trials,
            a.interval_steps) == ('maximize', 0, 5, 1, 1)
    with pytest.raises(ConfigError, match=r'^scheduler\.assessor\.'
                       r'n_min_trials: expected an integer >= 1, found 0$'):
        MedianStopAssessor(n_min_trials=0)
    with pytest.raises(ConfigError, match=r'^scheduler\.assessor\.'
                       r'interval_steps: expected an integer >= 1, found 0$'):
        MedianStopAssessor(interval_steps=0)
    with pytest.raises(ConfigError, match=r'^scheduler\.assessor\.'
                       r'optimize_mode: expected maximize or minimize '
                       r"\(or max / min\), found 'up'$"):
        MedianStopAssessor(optimize_mode='up')


def test_median_stop_odd_count():
    # averages at step 2: [1.5, 3, 4] -> median 3 in both modes
    a = median_stop()
    assert a.median_at(2) == (3.0, 3)
    assert a.assess(9, [0, 2.9]) is False
    assert a.assess(9, [0, 3.0]) is True      # not below: goes on
    assert a.assess(9, [3.5, 0]) is True      # best so far counts
    m = median_stop('minimize')
    assert m.assess(9, [5, 3.1]) is False
    assert m.assess(9, [5, 3.0]) is True


def test_median_stop_even_count_lower_and_upper_median():
    # averages at step 2: [1.5, 3, 4, 5]
    a = median_stop(trials=(1, 2, 3, 4))
    assert a.median_at(2) == (3.0, 4)         # maximize: element (n-1)//2
    assert a.assess(9, [2.9, 0]) is False
    assert a.assess(9, [3.0, 0]) is True
    m = median_stop('minimize', trials=(1, 2, 3, 4))
    assert m.median_at(2) == (4.0, 4)         # minimize: element n//2
    assert m.assess(9, [4.1, 9]) is False
    assert m.assess(9, [4.0, 9]) is True


def test_median_stop_startup_guard_and_failed_trials():
    a = MedianStopAssessor(n_startup_trials=3)
    a.trial_end(1, DONE[1], True)
    a.trial_end(2, DONE[2], True)
    a.trial_end(5, [100, 100], False)         # failed: never counts
    assert a.assess(9, [0, 0]) is True
    a.trial_end(3, DONE[3], True)
    assert a.median_at(2) == (3.0, 3)
    assert a.assess(9, [0, 0]) is False


def test_median_stop_warmup_interval_and_min_trials():
    a = median_stop(start_step=3)
    assert a.assess(9, [0, 0]) is True        # warm-up
    assert a.assess(9, [0, 0, 0]) is False
    b = median_stop(start_step=1, interval_steps=2)
    assert [b.assess(9, [0] * n) for n in (1, 2, 3)] == [False, True, False]
    # the controller may deliver steps 1 and 2 at once: step 1 was a judged
    # step, so the trial is judged now (at step 2)
    assert b.assess(10, [0, 0]) is False
    assert b.assess(11, [9, 9]) is True and b.assess(11, [9, 9, 0]) is True
    # step 3: only trials 1-3 reached it; n_min_trials = 4 is not met
    c = median_stop(n_min_trials=4, trials=(1, 2, 3))
    assert c.assess(9, [0, 0, 0]) is True
    c.trial_end(4, DONE[4], True)
    assert c.assess(9, [0, 0, 0]) is False
    # a step no completed trial reached: no evidence, go on
    assert median_stop().assess(9, [0, 0, 0, 0]) is True


def test_median_stop_nan():
    a = median_stop()
    assert a.assess(9, [NAN, NAN]) is False   # NaN best
    assert a.assess(9, [NAN, 3.5]) is True    # NaN skipped, best 3.5
    a.trial_end(5, [NAN, 0, 0], True)         # NaN average: left out
    assert a.median_at(2) == (3.0, 3)


def test_median_stop_interleaved_and_resume():
    a = median_stop(trials=(1, 2, 3, 4))
    b = median_stop(trials=(4, 3, 2, 1))      # replay in another order
    for n in (1, 2, 3):
        for tid, hist in ((7, [0.5, 1, 9]), (8, [9, 0, 0])):
            assert a.assess(tid, hist[:n]) == b.assess(tid, hist[:n])
    assert a.assess(7, [0.5, 1]) is False and a.assess(8, [9, 0]) is True
