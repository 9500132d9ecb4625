"""Tests of the calibrated transition test (docs/model.md §11.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, binomtest

from energy_routing.analysis import transition as regimes
from energy_routing.analysis.fits import fit_regime
from energy_routing.analysis.transition import TransitionTest, detect_transition
from energy_routing.theory import exact
from energy_routing.theory.increment import IncrementLaw

CHECKPOINTS = np.unique(np.rint(np.geomspace(10, 4000, 30))).astype(np.int64)


def random_walk_deficits(rng, trials, drift=0.0, checkpoints=CHECKPOINTS):
    """D_T at the checkpoints and B_T / T of walks with skewed steps.

    Steps ``(G - 1) / sqrt(2) + drift`` with G ~ Gamma(1/2, 2) (mean 1, variance 2): unit
    variance, skewness 2.8, far from the Brownian null the test is calibrated on.
    """
    steps = (rng.gamma(0.5, 2.0, size=(trials, int(checkpoints[-1]))) - 1.0) / math.sqrt(2.0)
    walk = np.cumsum(steps + drift, axis=1)
    low = np.minimum.accumulate(np.minimum(walk, 0.0), axis=1)
    return -low[:, checkpoints - 1], walk[:, -1] / checkpoints[-1]


#: The step law of random_walk_deficits at zero drift: (G - 1) / sqrt(2), G ~ Gamma(1/2, 2).
SKEWED_LAW = IncrementLaw(0.5, math.sqrt(2.0), -1.0 / math.sqrt(2.0), 0.0, [0.0], [1.0])


def law_walk_deficits(rng, law, trials, checkpoints=CHECKPOINTS):
    """D_T at the checkpoints of walks whose steps are drawn from ``law``."""
    steps = law.sample(rng, trials * int(checkpoints[-1])).reshape(trials, -1)
    low = np.minimum.accumulate(np.minimum(np.cumsum(steps, axis=1), 0.0), axis=1)
    return -low[:, checkpoints - 1]


def t_star(drift, sigma=1.0):
    return 2 * sigma**2 / (math.pi * drift**2)


# ------------------------------------------------------------------ calibration and power


@pytest.mark.parametrize("null_law", [None, SKEWED_LAW], ids=["brownian", "step_law"])
def test_false_positive_rate_on_critical_random_walks(null_law):
    """Skewed critical walks, against the Brownian null or their own step law: at most
    5 % + noise."""
    rng = np.random.default_rng(2026)
    n_sets, trials = 80, 60
    detected = 0
    bic_detected = 0
    for _ in range(n_sets):
        d, mu = random_walk_deficits(rng, trials)
        res = detect_transition(
            CHECKPOINTS, d, mu_samples=mu, sigma=1.0, n_resamples=0, null_law=null_law
        )
        assert res.null_model == ("brownian" if null_law is None else "step law")
        detected += res.transition_detected
        bic_detected += res.fit.transition_detected
    # P(Binomial(80, 0.05) >= 9) = 0.04: a calibrated test fails this 4 % of the time at most
    assert detected <= binom.isf(0.04, n_sets, 0.05)
    # the uncorrected BIC rule, for contrast, flags many of these critical curves
    assert bic_detected > 3 * max(detected, 1)


@pytest.mark.parametrize("null_law", [None, SKEWED_LAW], ids=["brownian", "step_law"])
def test_power_and_t_star_coverage_at_a_clear_drift(null_law):
    rng = np.random.default_rng(7)
    drift = -0.06  # T* = 177 slots, well inside the checkpoints
    results = [
        detect_transition(
            CHECKPOINTS,
            *random_walk_deficits(rng, 60, drift)[:1],
            mu_samples=None,
            n_resamples=50,
            null_law=null_law,
        )
        for _ in range(10)
    ]
    assert all(r.transition_detected for r in results)
    assert all(r.detection_frequency > 0.9 for r in results)
    assert all(
        r.breakpoint_interval[0] <= r.breakpoint_T <= r.breakpoint_interval[1] for r in results
    )

    covered = 0
    for _ in range(20):
        d, mu = random_walk_deficits(rng, 60, drift)
        r = detect_transition(
            CHECKPOINTS, d, mu_samples=mu, sigma=1.0, n_resamples=0, null_law=null_law
        )
        assert r.transition_detected and r.t_star_source == "drift"
        covered += r.t_star_interval[0] <= t_star(drift) <= r.t_star_interval[1]
        assert r.drift_p_value < 0.05
    assert covered >= 16  # nominal 95 %


def test_step_law_null_holds_its_level_on_its_own_walks():
    """CI-sized calibration (the full one at horizon 1e5 on the engine is
    benchmarks/transition_calibration.py): 300 critical data sets of 40 walks with skewed
    steps (Gamma harvest less Poisson tasks, skewness 1.4) to T = 4000, tested against
    their own step law; 5 % lies inside the Wilson 95 % interval of the rate and the rate
    is at most 5 % + noise."""
    law = IncrementLaw(0.25, 4.0, 0.0, 1.0, [1.0], [1.0])  # mean 0, variance 5
    assert law.mean_J == 0 and law.cumulant(3) / law.sigma_J**3 > 1.4
    rng = np.random.default_rng(20)
    n_sets, detected = 300, 0
    for j in range(n_sets):
        d = law_walk_deficits(rng, law, 40)
        detected += detect_transition(
            CHECKPOINTS, d, n_resamples=0, null_law=law, rng=j % 4
        ).transition_detected
    ci = binomtest(detected, n_sets).proportion_ci(0.95, method="wilson")
    assert ci.low <= 0.05 <= ci.high
    assert detected <= binom.isf(0.04, n_sets, 0.05)


def test_step_law_null_curves_have_the_exact_mean_deficit():
    """The null walks of a skewed law (slot by slot to 1000, bridges with the ladder offset
    beyond) against the exact discrete E[D_T] of docs/model.md §11, within 4 standard
    errors, before and after the switch."""
    law = IncrementLaw(0.25, 4.0, 0.0, 1.0, [1.0], [1.0])
    rng = np.random.default_rng(8)
    steps, beta = regimes._step_null_setup(law, rng)
    assert beta == pytest.approx(exact.ladder_offset(law) / law.sigma_J)
    T = np.array([100.0, 300.0, 1000.0, 3000.0, 10000.0])
    d = regimes._step_law_deficits(rng, 4, 5000, T, steps, beta, 1000).reshape(-1, T.size)
    mean, se = d.mean(0), d.std(0, ddof=1) / math.sqrt(d.shape[0])
    want = exact.exact_expected_deficit(law, None, T.astype(np.int64)) / law.sigma_J
    assert np.all(np.abs(mean - want) < 4 * se)
    assert np.all(np.diff(d, axis=1) >= 0)
    # the Brownian curves miss the offset at short horizons
    b = regimes._brownian_deficits(rng, 4, 5000, T).reshape(-1, T.size)
    assert b.mean(0)[0] - want[0] > 10 * se[0]


def test_a_surplus_is_not_a_transition():
    rng = np.random.default_rng(11)
    d, mu = random_walk_deficits(rng, 60, drift=+0.06)
    r = detect_transition(CHECKPOINTS, d, mu_samples=mu, n_resamples=0)
    assert not r.transition_detected
    assert math.isnan(r.breakpoint_T) and r.drift_p_value > 0.5


# ------------------------------------------------------------------ the pieces


def test_brownian_null_curves_have_the_reflection_law():
    rng = np.random.default_rng(3)
    T = np.array([1.0, 10.0, 100.0])
    d = regimes._brownian_deficits(rng, 4, 5000, T).reshape(-1, 3)
    # D_T has the law of |W_T|: mean sqrt(2T/pi), P(D_T > sqrt T) = 2 Phi(-1) = 0.3173
    np.testing.assert_allclose(d.mean(0) / np.sqrt(2 * T / np.pi), 1.0, atol=0.02)
    np.testing.assert_allclose((d > np.sqrt(T)).mean(0), 0.3173, atol=0.01)
    assert np.all(np.diff(d, axis=1) >= 0)


def test_fast_segmented_fit_matches_fit_regime():
    rng = np.random.default_rng(5)
    T = np.geomspace(100, 1e5, 25)
    for _ in range(5):
        y = 3 * np.sqrt(T) + rng.uniform(0, 0.01) * T + rng.normal(0, 5, T.size)
        se = rng.uniform(1, 3, T.size)
        tau, a, c = regimes._segmented_best(T, y[None], se[None], 3)
        fit = fit_regime(T, y, se)
        assert tau[0] == fit.best_candidate_T
        if fit.transition_detected:
            assert a[0] == pytest.approx(fit.a) and c[0] == pytest.approx(fit.c)


def test_result_is_deterministic_given_the_seed():
    rng = np.random.default_rng(1)
    d, mu = random_walk_deficits(rng, 40, drift=-0.02)
    a = detect_transition(CHECKPOINTS, d, mu_samples=mu, rng=5, n_resamples=30)
    b = detect_transition(CHECKPOINTS, d, mu_samples=mu, rng=5, n_resamples=30)
    c = detect_transition(
        CHECKPOINTS, d, mu_samples=mu, rng=np.random.default_rng(5), n_resamples=30
    )
    assert a == b
    assert c.statistic == a.statistic and c.transition_detected == a.transition_detected
    row = a.as_dict()
    assert row["breakpoint_low"] == a.breakpoint_interval[0]
    assert row["t_star_high"] == a.t_star_interval[1]
    assert row["fit_bic_penalty"] == 2.0 and row["n_test_points"] == len(a.test_T)
    assert isinstance(a, TransitionTest)


@settings(max_examples=10, deadline=None)
@given(
    scale=st.floats(1e-3, 1e4),
    offset=st.floats(-1e3, 1e3),
    root=st.floats(-10, 10),
)
def test_statistic_ignores_units_offset_and_square_root(scale, offset, root):
    rng = np.random.default_rng(0)
    d, _ = random_walk_deficits(rng, 30, drift=-0.01)
    base = detect_transition(CHECKPOINTS, d, n_resamples=0)
    moved = d * scale + offset + root * scale * np.sqrt(CHECKPOINTS)
    other = detect_transition(CHECKPOINTS, moved, n_resamples=0)
    assert other.statistic == pytest.approx(base.statistic, rel=1e-6, abs=1e-6)
    assert other.p_value == base.p_value


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(deficits=np.ones((5, CHECKPOINTS.size))), "at least 10 trials"),
        (dict(deficits=np.ones((20, 3))), "shape"),
        (dict(checkpoints=CHECKPOINTS[::-1]), "increasing"),
        (dict(alpha=1.5), "alpha"),
        (dict(t_min=3000), "at least 6 checkpoints"),
        (dict(max_points=3), "max_points"),
        (dict(mu_samples=np.ones(3)), "mu_samples"),
        (dict(mu_samples=np.ones(20), sigma=-1.0), "sigma"),
        (dict(null_law="gaussian"), "null_law"),
        (dict(checkpoints=CHECKPOINTS + 0.5, null_law=SKEWED_LAW), "whole slots"),
    ],
)
def test_bad_inputs_are_rejected(kwargs, match):
    args = dict(
        checkpoints=CHECKPOINTS,
        deficits=np.cumsum(np.ones((20, CHECKPOINTS.size)), axis=1)
        + np.random.default_rng(0).random((20, CHECKPOINTS.size)),
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        detect_transition(args.pop("checkpoints"), args.pop("deficits"), **args)
