"""Tests for energy_routing.analysis.fits (docs/model.md §9): BIC regime detection and
log-log slopes."""

import json
import math

import numpy as np
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from energy_routing.analysis.fits import RegimeFit, SlopeFit, fit_regime, loglog_slope

T_GRID = np.geomspace(10.0, 1e6, 120)  # checkpoints [slots]
REL_NOISE = 0.02  # relative Monte Carlo noise of each point


def noisy(y_true, seed, rel=REL_NOISE):
    """Independent relative Gaussian noise; returns (y, se) with se = rel * y_true."""
    rng = np.random.default_rng(seed)
    y = y_true * (1.0 + rel * rng.standard_normal(y_true.shape))
    return y, rel * y_true


def segmented(T, a, c, tau):
    return a * np.sqrt(np.minimum(T, tau)) + c * np.maximum(0.0, T - tau)


def mean_deficit(T, mu, sigma):
    """E[D_T] of the drifted Brownian model for mu < 0 (docs/model.md §7), test-only reference."""
    nu = -mu
    r = nu * np.sqrt(T) / sigma
    return (
        nu * T * norm.cdf(r)
        + sigma * np.sqrt(T) * norm.pdf(r)
        + sigma**2 / (2 * nu) * (2 * norm.cdf(r) - 1)
    )


# ---------------------------------------------------------------- fit_regime: detection


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pure_sqrt_has_no_transition(seed):
    a_true = 2.5
    y, se = noisy(a_true * np.sqrt(T_GRID), seed)
    fit = fit_regime(T_GRID, y, se)
    assert isinstance(fit, RegimeFit)
    assert fit.transition_detected is False
    assert math.isnan(fit.breakpoint_T) and math.isnan(fit.c) and math.isnan(fit.c_se)
    assert fit.bic_segmented >= fit.bic_pure
    assert fit.weighted is True
    assert fit.a == fit.pure_a and fit.a_se == fit.pure_a_se
    # recovered within a few standard errors, and the standard error is informative
    assert 0 < fit.a_se < 0.01 * a_true
    assert abs(fit.a - a_true) < 4 * fit.a_se
    np.testing.assert_allclose(fit.predict(T_GRID), fit.a * np.sqrt(T_GRID))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sqrt_then_linear_is_detected(seed):
    a_true, c_true, tau_true = 2.0, 0.01, 3000.0  # tau_true is not a checkpoint
    y, se = noisy(segmented(T_GRID, a_true, c_true, tau_true), seed)
    fit = fit_regime(T_GRID, y, se)
    assert fit.transition_detected is True
    assert fit.bic_segmented < fit.bic_pure
    assert fit.best_candidate_T == fit.breakpoint_T
    assert fit.breakpoint_T in T_GRID
    assert tau_true / 1.5 < fit.breakpoint_T < tau_true * 1.5
    assert 0 < fit.a_se < 0.05 * a_true and 0 < fit.c_se < 0.05 * c_true
    assert abs(fit.a - a_true) < 4 * fit.a_se
    assert abs(fit.c - c_true) < 4 * fit.c_se
    # the pure fit is still reported and is a poor description of this curve
    assert fit.pure_a > a_true


def test_ols_when_se_missing_or_has_zeros():
    y, se = noisy(segmented(T_GRID, 2.0, 0.01, 3000.0), seed=5)
    no_se = fit_regime(T_GRID, y)
    zero_se = fit_regime(T_GRID, y, np.where(np.arange(y.size) == 7, 0.0, se))
    assert no_se.weighted is False and zero_se.weighted is False
    assert no_se == zero_se
    assert no_se.transition_detected
    assert 3000.0 / 1.5 < no_se.breakpoint_T < 3000.0 * 1.5


def test_breakpoints_move_earlier_as_drift_grows():
    """Deficit curves of docs/model.md §7 with growing |mu|: the crossover
    T* = 2 sigma^2 / (pi mu^2) moves earlier, and so must the detected breakpoint."""
    sigma = 1.0
    breakpoints, crossovers = [], []
    for seed, nu in enumerate([0.01, 0.03, 0.1]):
        y, se = noisy(mean_deficit(T_GRID, -nu, sigma), seed, rel=0.01)
        fit = fit_regime(T_GRID, y, se)
        assert fit.transition_detected, nu
        assert fit.c > 0
        breakpoints.append(fit.breakpoint_T)
        crossovers.append(2 * sigma**2 / (math.pi * nu**2))
    assert breakpoints[0] > breakpoints[1] > breakpoints[2]
    for bp, t_star in zip(breakpoints, crossovers, strict=True):
        assert t_star / 10 < bp < t_star * 10


def test_predict_is_continuous_at_breakpoint():
    T = np.geomspace(10, 1e5, 41)
    tau = T[20]
    fit = fit_regime(T, segmented(T, 2.0, 0.05, tau))
    assert fit.transition_detected
    assert fit.breakpoint_T == tau
    left, right = fit.predict([tau * (1 - 1e-12), tau * (1 + 1e-12)])
    assert left == pytest.approx(right, rel=1e-9)
    assert isinstance(fit.predict(tau), float)
    np.testing.assert_allclose(fit.predict(T), segmented(T, 2.0, 0.05, tau), rtol=1e-9)


def test_exact_sqrt_data_keeps_pure_model():
    """Round-off-sized RSS is floored: exact data ties, and the simpler model wins."""
    fit = fit_regime(T_GRID, 3.0 * np.sqrt(T_GRID))
    assert not fit.transition_detected
    assert fit.a == pytest.approx(3.0, rel=1e-12)
    # a zero curve is fitted exactly by both models: without a penalty the two floored BICs
    # tie, and a tie is not a detection
    tied = fit_regime(T_GRID, np.zeros_like(T_GRID), bic_penalty=0.0)
    assert tied.bic_segmented == tied.bic_pure
    assert not tied.transition_detected


# ---------------------------------------------------------------- fit_regime: BIC details


def test_bic_matches_hand_computation():
    T = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = np.array([1.1, 1.3, 2.1, 2.7, 4.6])
    n, kappa = 5, 2.0
    fit = fit_regime(T, y, bic_penalty=kappa, min_points=2)

    # pure model, OLS through the origin on x = sqrt(T): a = sum(x y) / sum(x^2)
    x = np.sqrt(T)
    a = np.sum(x * y) / np.sum(x * x)
    rss_pure = np.sum((y - a * x) ** 2)
    a_se = math.sqrt(rss_pure / (n - 1) / np.sum(x * x))
    assert fit.pure_a == pytest.approx(a, rel=1e-12)
    assert fit.pure_a_se == pytest.approx(a_se, rel=1e-10)
    assert fit.bic_pure == pytest.approx(n * math.log(rss_pure / n) + kappa * math.log(n))

    # segmented: min_points=2 leaves candidates tau = 2 and tau = 4; solve the 2x2
    # normal equations by Cramer's rule
    bics = {}
    for tau in (2.0, 4.0):
        u, v = np.sqrt(np.minimum(T, tau)), np.maximum(0.0, T - tau)
        suu, svv, suv = u @ u, v @ v, u @ v
        det = suu * svv - suv**2
        a_s = (svv * (u @ y) - suv * (v @ y)) / det
        c_s = (suu * (v @ y) - suv * (u @ y)) / det
        rss = np.sum((y - a_s * u - c_s * v) ** 2)
        bics[tau] = n * math.log(rss / n) + kappa * 3 * math.log(n)
    best_tau = min(bics, key=bics.get)
    assert fit.n_candidates == 2
    assert fit.best_candidate_T == best_tau
    assert fit.bic_segmented == pytest.approx(bics[best_tau])
    assert fit.transition_detected == (bics[best_tau] < fit.bic_pure)


def test_weighted_bic_uses_weighted_rss():
    T = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = np.array([1.1, 1.3, 2.1, 2.7, 4.6])
    se = np.array([0.1, 0.1, 0.2, 0.3, 0.5])
    fit = fit_regime(T, y, se, min_points=2)
    w, x = se**-2, np.sqrt(T)
    a = np.sum(w * x * y) / np.sum(w * x * x)
    rss = np.sum(w * (y - a * x) ** 2)
    assert fit.weighted
    assert fit.pure_a == pytest.approx(a, rel=1e-12)
    assert fit.bic_pure == pytest.approx(5 * math.log(rss / 5) + 2.0 * math.log(5))


PENALTY_CURVES = {
    "pure": lambda T: 2.0 * np.sqrt(T),
    "weak": lambda T: 2.0 * np.sqrt(T) + 1e-4 * T,  # marginal: flips for kappa in (0.5, 4)
    "strong": lambda T: segmented(T, 2.0, 0.01, 3000.0),
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("curve", sorted(PENALTY_CURVES))
def test_larger_penalty_never_creates_a_detection(seed, curve):
    y, se = noisy(PENALTY_CURVES[curve](T_GRID), seed)
    kappas = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 32.0, 128.0]
    fits = [fit_regime(T_GRID, y, se, bic_penalty=k) for k in kappas]
    flags = [f.transition_detected for f in fits]
    # once switched off, a detection stays off as kappa grows
    assert flags == sorted(flags, reverse=True)
    # the best breakpoint does not depend on kappa (all candidates share k = 3) and the BIC
    # gap grows by exactly 2 ln(n) per unit of kappa
    n = T_GRID.size
    assert len({f.best_candidate_T for f in fits}) == 1
    gap0 = fits[0].bic_segmented - fits[0].bic_pure
    for k, f in zip(kappas, fits, strict=True):
        assert f.bic_segmented - f.bic_pure == pytest.approx(gap0 + 2 * k * math.log(n), abs=1e-8)
    # the grid of kappa brackets the switch for the bent curves; the default rejects "pure"
    if curve == "pure":
        assert not any(flags[kappas.index(2.0) :])
    else:
        assert flags[kappas.index(0.5)] and not flags[-1]


def test_too_few_points_returns_pure_fit():
    T = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = 1.5 * np.sqrt(T) + np.array([0.01, -0.02, 0.03, -0.01, 0.02])
    fit = fit_regime(T, y, min_points=3)  # 5 < 2 * 3: no candidate breakpoint
    assert fit.n_candidates == 0
    assert not fit.transition_detected
    assert math.isnan(fit.bic_segmented) and math.isnan(fit.best_candidate_T)
    assert math.isfinite(fit.bic_pure)
    assert fit.a == pytest.approx(1.5, rel=0.02)


def test_as_dict_is_plain_and_json_ready():
    y, se = noisy(segmented(T_GRID, 2.0, 0.01, 3000.0), seed=3)
    row = fit_regime(T_GRID, y, se).as_dict()
    assert {"transition_detected", "breakpoint_T", "a", "a_se", "c", "c_se", "pure_a"} <= set(row)
    assert {"pure_a_se", "bic_pure", "bic_segmented", "n_points", "bic_penalty"} <= set(row)
    assert all(type(v) in (bool, int, float) for v in row.values())
    assert type(row["transition_detected"]) is bool and type(row["n_points"]) is int
    assert json.loads(json.dumps(row)) == row
    pure_row = fit_regime(T_GRID, 2.0 * np.sqrt(T_GRID) + 1e-3).as_dict()
    assert math.isnan(pure_row["breakpoint_T"]) and type(pure_row["c"]) is float


def test_result_is_frozen():
    fit = fit_regime(T_GRID, 2.0 * np.sqrt(T_GRID) + 1e-3)
    with pytest.raises(AttributeError):
        fit.a = 0.0


# ---------------------------------------------------------------- loglog_slope


def test_loglog_slope_exact_exponents():
    assert loglog_slope(T_GRID, 0.3 * T_GRID).slope == pytest.approx(1.0, abs=1e-10)
    assert loglog_slope(T_GRID, 4.0 * np.sqrt(T_GRID)).slope == pytest.approx(0.5, abs=1e-10)
    fit = loglog_slope(T_GRID, 0.3 * T_GRID, t_from=1e4)
    assert fit.n_points == int(np.count_nonzero(T_GRID >= 1e4))
    assert fit.t_from == 1e4


@pytest.mark.parametrize(
    ("name", "curve", "exponent"),
    [
        ("deficit", lambda T: 0.3 * T, 1.0),
        ("critical", lambda T: 4.0 * np.sqrt(T), 0.5),
        ("surplus", lambda T: 1.0 / (2 * 0.05) * (1 - np.exp(-T / 100.0)), 0.0),
    ],
)
@pytest.mark.parametrize("weighted", [True, False])
def test_loglog_slope_noisy_ci_covers_exponent(name, curve, exponent, weighted):
    y, se = noisy(curve(T_GRID), seed=11)
    fit = loglog_slope(T_GRID, y, se if weighted else None)
    assert isinstance(fit, SlopeFit)
    assert fit.weighted is weighted
    assert fit.ci_low < exponent < fit.ci_high, name
    assert fit.ci_low < fit.slope < fit.ci_high
    # the interval is narrow enough to tell the three regimes apart
    assert fit.ci_high - fit.ci_low < 0.1
    # default window: upper half of the checkpoints in log T
    assert fit.t_from == pytest.approx(math.sqrt(10.0 * 1e6))
    assert fit.n_points == int(np.count_nonzero(T_GRID >= fit.t_from))


def test_loglog_slope_weighted_matches_hand_computation():
    """Delta-method weights (y / se)^2 on ln y, checked against weighted normal equations."""
    T = np.array([10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0])
    y = np.array([3.0, 5.5, 9.0, 18.0, 30.0, 57.0])
    se = np.array([0.3, 0.2, 0.9, 0.5, 3.0, 2.0])  # not proportional to y
    fit = loglog_slope(T, y, se, t_from=1.0)
    X = np.column_stack([np.ones(T.size), np.log(T)])
    W = np.diag((y / se) ** 2)
    beta = np.linalg.solve(X.T @ W @ X, X.T @ W @ np.log(y))
    assert fit.weighted and fit.n_points == 6
    assert fit.slope == pytest.approx(beta[1], rel=1e-10)
    assert fit.intercept == pytest.approx(beta[0], rel=1e-10)
    assert loglog_slope(T, y, t_from=1.0).slope != pytest.approx(beta[1], rel=1e-3)


def test_loglog_slope_ci_width_follows_alpha():
    y, se = noisy(0.3 * T_GRID, seed=2)
    wide = loglog_slope(T_GRID, y, se, alpha=0.01)
    narrow = loglog_slope(T_GRID, y, se, alpha=0.2)
    assert wide.slope == narrow.slope
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low
    fit95 = loglog_slope(T_GRID, y, se)
    half = student_t.ppf(0.975, df=fit95.n_points - 2) * fit95.slope_se
    assert fit95.ci_high - fit95.slope == pytest.approx(half, rel=1e-9)
    assert fit95.slope - fit95.ci_low == pytest.approx(half, rel=1e-9)
    assert json.loads(json.dumps(fit95.as_dict())) == fit95.as_dict()


# ---------------------------------------------------------------- input validation

T5 = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
Y5 = np.sqrt(T5)


@pytest.mark.parametrize("func", [fit_regime, loglog_slope])
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"T": T5[:4], "y": Y5}, "y"),
        ({"T": T5[::-1], "y": Y5}, "T"),
        ({"T": np.array([1.0, 2.0, 2.0, 8.0, 16.0]), "y": Y5}, "T"),
        ({"T": T5 - 1.0, "y": Y5}, "T"),
        ({"T": np.array([1.0, 2.0, 4.0, 8.0, np.inf]), "y": Y5}, "T"),
        ({"T": T5.reshape(5, 1), "y": Y5.reshape(5, 1)}, "T"),
        ({"T": T5, "y": np.array([1.0, np.nan, 2.0, 3.0, 4.0])}, "y"),
        ({"T": T5, "y": Y5, "se": np.array([0.1, -0.1, 0.1, 0.1, 0.1])}, "se"),
        ({"T": T5, "y": Y5, "se": np.full(4, 0.1)}, "se"),
        ({"T": T5, "y": Y5, "se": np.array([0.1, np.nan, 0.1, 0.1, 0.1])}, "se"),
        ({"T": T5[:1], "y": Y5[:1]}, "T"),
    ],
)
def test_bad_curves_raise_naming_the_argument(func, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        func(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"bic_penalty": -1.0}, "bic_penalty"),
        ({"bic_penalty": math.nan}, "bic_penalty"),
        ({"min_points": 1}, "min_points"),
        ({"min_points": 2.5}, "min_points"),
    ],
)
def test_bad_fit_regime_options_raise(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        fit_regime(T5, Y5, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((T5, -Y5), {}, "y"),
        ((T5, np.where(T5 == 4.0, 0.0, Y5)), {}, "y"),
        ((T5, Y5), {"alpha": 0.0}, "alpha"),
        ((T5, Y5), {"alpha": 1.5}, "alpha"),
        ((T5, Y5), {"t_from": 10.0}, "t_from"),
        ((T5, Y5), {"t_from": -1.0}, "t_from"),
        ((np.array([1.0, 2.0, 3.0, 1e6]), np.ones(4)), {}, "t_from"),
    ],
)
def test_bad_loglog_slope_inputs_raise(args, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        loglog_slope(*args, **kwargs)


def test_predict_rejects_negative_horizon():
    with pytest.raises(ValueError, match=r"^T must"):
        fit_regime(T5, Y5).predict(-1.0)
