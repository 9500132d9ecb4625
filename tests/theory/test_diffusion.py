"""Tests of the closed forms for the deficit D_T (docs/model.md §7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import ndtr

from energy_routing.theory import diffusion as th

MUS = [-0.5, -0.01, 0.0, 0.01, 0.5]
SIGMAS = [0.5, 2.0]
TS = [1.0, 100.0, 1e4]


def naive_expected_deficit(mu, sigma, T):
    """docs/model.md §7 written out literally (valid only away from mu = 0 and extremes)."""
    nu = -mu
    a = nu * math.sqrt(T) / sigma
    phi = math.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    big_phi = float(ndtr(a))
    return nu * T * big_phi + sigma * math.sqrt(T) * phi + sigma**2 / (2 * nu) * (2 * big_phi - 1)


def first_passage_probability(d, mu, sigma, T):
    """P(min_{t <= T} B_t <= -d) by integrating the first-passage density of level -d."""

    def density(t):
        return (
            d
            / (sigma * math.sqrt(2 * math.pi * t**3))
            * math.exp(-((d + mu * t) ** 2) / (2 * sigma**2 * t))
        )

    # Split at the density's peak (near d^2 / (3 sigma^2)) so quad sees it.
    peak = min(d * d / (3 * sigma**2), T)
    value = 0.0
    for lo, hi in [(0.0, peak), (peak, T)]:
        if hi > lo:
            value += integrate.quad(density, lo, hi, limit=200, epsabs=1e-14, epsrel=1e-11)[0]
    return value


def sample_deficit(mu, sigma, T, n, rng):
    """Exact draws of D_T for B_t = mu t + sigma W_t, without the closed forms.

    B_T is Gaussian; given B_T = b the path is a Brownian bridge whose minimum m has
    P(m <= x) = exp(-2 x (x - b) / (sigma^2 T)) for x <= min(0, b) (whatever the drift),
    sampled by inverting that law.
    """
    end = mu * T + sigma * math.sqrt(T) * rng.standard_normal(n)
    log_u = np.log1p(-rng.random(n))  # log of a uniform on (0, 1]
    low = 0.5 * (end - np.sqrt(end**2 - 2 * sigma**2 * T * log_u))
    return np.maximum(0.0, -low)


# ------------------------------------------------------------------ expected deficit


@pytest.mark.parametrize("mu", MUS)
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("T", TS)
def test_expected_deficit_is_integral_of_first_passage(mu, sigma, T):
    # E[D] = int_0^inf P(D >= d) dd, with P(D >= d) = P(B reaches -d by T) integrated from
    # the first-passage density (no closed form of the package involved); split at the
    # deficit mean so quad sees the bulk.
    split = max(-mu * T, 0.0) + 10.0 * sigma * math.sqrt(T)

    def sf(d):
        return first_passage_probability(d, mu, sigma, T)

    head, _ = integrate.quad(sf, 0.0, split, limit=200, epsabs=0.0, epsrel=1e-10)
    tail, _ = integrate.quad(sf, split, np.inf, limit=200, epsabs=0.0, epsrel=1e-10)
    assert th.expected_deficit(mu, sigma, T) == pytest.approx(head + tail, rel=1e-9)


@pytest.mark.parametrize(
    ("mu", "sigma", "T"),
    [
        (-0.3, 1.0, 50.0),  # deficit, r = -2.1
        (-1e-3, 1.0, 1e4),  # nearly critical, r = -0.1
        (0.0, 2.0, 100.0),  # critical
        (0.05, 1.0, 400.0),  # surplus, r = 1
        (0.5, 1.0, 100.0),  # surplus past the crossover, r = 5: E -> sigma^2 / (2 mu)
    ],
)
def test_closed_forms_match_exact_path_sampling(mu, sigma, T):
    """E[D_T] and P(D_T >= d) against a direct Monte Carlo of the Brownian motion."""
    n = 400_000
    draws = sample_deficit(mu, sigma, T, n, np.random.default_rng(20260101))
    mean, sem = draws.mean(), draws.std(ddof=1) / math.sqrt(n)
    assert abs(th.expected_deficit(mu, sigma, T) - mean) < 4.5 * sem
    for d in np.quantile(draws, [0.2, 0.5, 0.9, 0.99]):
        p = float(th.deficit_sf(d, mu, sigma, T))
        assert abs(p - np.mean(draws >= d)) < 4.5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("mu", [-0.5, -0.01, 0.01, 0.5])
@pytest.mark.parametrize("T", TS)
def test_expected_deficit_matches_literal_formula(mu, T):
    assert th.expected_deficit(mu, 1.3, T) == pytest.approx(
        naive_expected_deficit(mu, 1.3, T), rel=1e-11
    )


@pytest.mark.parametrize("r", [-30.0, -9.0, -6.0, -4.5, -2.0, -0.7, 0.7, 2.0, 4.5, 6.0, 9.0, 30.0])
def test_deviation_matches_literal_formula(r):
    # Moderate |r| where docs/model.md §7 can be evaluated as written; T = 1, sigma = 1.
    literal = (naive_expected_deficit(r, 1.0, 1.0) - max(0.0, -r)) / math.sqrt(2 / math.pi)
    assert th.deviation_g(r) == pytest.approx(literal, rel=1e-12 * (1 + r * r))


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("T", [1e-3, 1.0, 100.0, 1e9])
def test_critical_value_is_exact(sigma, T):
    value = th.expected_deficit(0.0, sigma, T)
    assert value == th.expected_deficit_asymptote(0.0, sigma, T)
    assert value == pytest.approx(sigma * math.sqrt(2 * T / math.pi), rel=1e-15)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_deficit_asymptote_is_linear(sigma):
    mu = -0.1
    gaps = []
    for T in [1e2, 1e4, 1e6, 1e8]:
        a = -mu * math.sqrt(T) / sigma
        assert th.expected_deficit_asymptote(mu, sigma, T) == pytest.approx(-mu * T)
        ratio = th.expected_deficit(mu, sigma, T) / (-mu * T)
        # E = nu T + sigma^2 / (2 nu) + (exponentially small), so ratio - 1 ~ 1 / (2 a^2).
        if a >= 5:
            assert ratio - 1 == pytest.approx(0.5 / a**2, rel=0.01)
        gaps.append(abs(ratio - 1))
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-5


@pytest.mark.parametrize("sigma", SIGMAS)
def test_surplus_asymptote_is_bounded(sigma):
    mu = 0.1
    ratios = []
    bound = sigma**2 / (2 * mu)
    for T in [1.0, 1e2, 1e4, 1e6]:
        assert th.expected_deficit_asymptote(mu, sigma, T) == pytest.approx(bound)
        ratios.append(th.expected_deficit(mu, sigma, T) / bound)
    assert np.all(np.diff(ratios) >= 0)  # approaches from below
    assert ratios[-1] == pytest.approx(1.0, abs=1e-12)
    # |r| = 10 is enough for machine precision: the correction is ~ exp(-r^2 / 2).
    T10 = (10 * sigma / mu) ** 2
    assert th.expected_deficit(mu, sigma, T10) / bound == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("mu", [-1e-3, 0.0, 1e-3])
def test_critical_asymptote_before_crossover(mu):
    # Well before T*, every regime grows like sigma sqrt(2 T / pi) (within ~|r|).
    sigma, T = 1.0, 1.0
    r = abs(mu) * math.sqrt(T) / sigma
    ratio = th.expected_deficit(mu, sigma, T) / (sigma * math.sqrt(2 * T / math.pi))
    assert abs(ratio - 1) <= 2 * r + 1e-15


@pytest.mark.parametrize("scale", [1e-12, 1e-9, 1e-6])
@pytest.mark.parametrize("sign", [-1.0, 1.0])
@pytest.mark.parametrize("T", [1.0, 1e6])
def test_continuous_at_zero_drift(scale, sign, T):
    sigma = 2.0
    mu = sign * scale * sigma / math.sqrt(T)  # r = mu sqrt(T) / sigma = +-scale
    at_zero = th.expected_deficit(0.0, sigma, T)
    near = th.expected_deficit(mu, sigma, T)
    # g(r) = 1 - sqrt(pi/8) |r| + ..., and the drift term adds sqrt(pi/2) |r| for mu < 0.
    assert abs(near / at_zero - 1) == pytest.approx(math.sqrt(math.pi / 8) * scale, rel=1e-3)


@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_no_jump_at_series_switch(sign):
    sigma, T = 1.5, 400.0
    r = sign * th._SERIES_CUTOFF * (1.0 + np.linspace(-1e-6, 1e-6, 2001))
    assert np.any(np.abs(r) < th._SERIES_CUTOFF) and np.any(np.abs(r) >= th._SERIES_CUTOFF)
    values = th.expected_deficit(r * sigma / math.sqrt(T), sigma, T)
    steps = np.diff(values) / values[1:]
    assert np.max(np.abs(steps)) < 1e-9
    # A smooth function has near-constant first differences on this grid; a jump at the
    # switch would show up as an outlier in the second differences.
    assert np.max(np.abs(np.diff(steps))) < 1e-14


@pytest.mark.parametrize("mu", [-1e-3, -1.0, -1e3, 1e-3, 1.0, 1e3])
@pytest.mark.parametrize("sigma", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("T", [1.0, 1e3, 1e9])
def test_extreme_inputs_are_finite(mu, sigma, T):
    d = np.array([0.0, 1e-300, 1e-6, 1.0, 1e6, 1e12, 1e300, np.inf])
    sf = th.deficit_sf(d, mu, sigma, T)
    cdf = th.deficit_cdf(d, mu, sigma, T)
    for probability in (sf, cdf):
        assert np.all(np.isfinite(probability))
        assert np.all((probability >= 0) & (probability <= 1))
    assert np.all(np.diff(sf) <= 0) and np.all(np.diff(cdf) >= 0)
    mean = th.expected_deficit(mu, sigma, T)
    assert np.isfinite(mean) and mean >= max(0.0, -mu * T)
    assert np.all(np.isfinite(th.deficit_quantile([1e-9, 0.5, 1 - 1e-9], mu, sigma, T)))


@pytest.mark.parametrize("ratio", [-1e6, -1e3, 1e3, 1e6])
@pytest.mark.parametrize("T", [1e3, 1e9])
def test_large_drift_ratio(ratio, T):
    sigma = 1.0
    mu = ratio * sigma / T  # |mu| T / sigma = |ratio|
    r = mu * math.sqrt(T) / sigma
    mean = th.expected_deficit(mu, sigma, T)
    assert np.isfinite(mean) and mean >= max(0.0, -mu * T)
    if abs(r) > 10:
        # Thm. 2 with the exponentially small terms (~ phi(r)) dropped from docs/model.md §7:
        # |mu| T + sigma^2 / (2 |mu|) in deficit, sigma^2 / (2 mu) in surplus.
        reference = max(0.0, -mu * T) + sigma**2 / (2 * abs(mu))
    else:
        reference = naive_expected_deficit(mu, sigma, T)
    assert mean == pytest.approx(reference, rel=1e-12)
    sf = th.deficit_sf([0.0, 1.0, 1e4, 1e8, 1e16], mu, sigma, T)
    assert np.all(np.isfinite(sf)) and np.all((sf >= 0) & (sf <= 1))


# ------------------------------------------------------------- distribution function


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("T", TS)
def test_sf_at_zero_drift_is_reflection_principle(sigma, T):
    d = np.linspace(0.0, 8.0, 81) * sigma * math.sqrt(T)
    expected = 2.0 * ndtr(-d / (sigma * math.sqrt(T)))
    np.testing.assert_allclose(th.deficit_sf(d, 0.0, sigma, T), expected, rtol=1e-13)


@pytest.mark.parametrize("mu", MUS)
@pytest.mark.parametrize("d", [0.05, 1.0, 3.0, 10.0])
def test_sf_matches_first_passage_density(mu, d):
    # P(D_T >= d) = P(first passage of B to -d happens by T), integrated numerically.
    sigma, T = 1.0, 25.0
    reference = first_passage_probability(d, mu, sigma, T)
    assert th.deficit_sf(d, mu, sigma, T) == pytest.approx(reference, rel=1e-8, abs=1e-13)


@pytest.mark.parametrize("mu", [1e-3, 0.1, 1.0])
def test_sf_infinite_horizon_is_exponential(mu):
    # With positive drift, D_inf is exponential with rate 2 mu / sigma^2.
    sigma = 0.7
    d = np.linspace(0.0, 20.0, 21) * sigma**2 / mu
    np.testing.assert_allclose(
        th.deficit_sf(d, mu, sigma, 1e16), np.exp(-2 * mu * d / sigma**2), rtol=1e-9
    )


def test_sf_does_not_overflow_where_the_literal_formula_would():
    # -2 mu d / sigma^2 = 2e4: exp() alone overflows, the product is still a probability.
    mu, sigma, T, d = -1.0, 1.0, 1e4, 1e4
    sf = th.deficit_sf(d, mu, sigma, T)
    # d is the mean of -B_T, so the first term is 1/2; the second is
    # exp(2 a^2) Phi(-2 a) with a = 100, whose asymptotic series is 1 / (2 a sqrt(2 pi)) (...).
    a = 100.0
    reflected = (1 - 1 / (4 * a**2) + 3 / (16 * a**4)) / (2 * a * math.sqrt(2 * math.pi))
    assert sf == pytest.approx(0.5 + reflected, rel=1e-12)
    assert th.deficit_cdf(d, mu, sigma, T) == pytest.approx(1 - sf, abs=1e-15)


@pytest.mark.parametrize("mu", MUS)
@pytest.mark.parametrize("T", TS)
def test_cdf_is_monotone_from_zero_to_one(mu, T):
    sigma = 1.0
    centre = max(-mu * T, 0.0)
    spread = sigma * math.sqrt(T)
    d = np.concatenate([[-1.0, 0.0], centre + spread * np.linspace(-12.0, 12.0, 400)])
    d = np.sort(np.maximum(d, -1.0))
    cdf = th.deficit_cdf(d, mu, sigma, T)
    assert cdf[0] == 0.0 and cdf[1] == 0.0
    assert np.all(np.diff(cdf) >= 0)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(cdf + th.deficit_sf(d, mu, sigma, T), 1.0, atol=1e-15)
    assert th.deficit_cdf(np.inf, mu, sigma, T) == 1.0


def test_cdf_keeps_relative_accuracy_near_zero():
    # At mu = 0, P(D <= d) = erf(d / (sigma sqrt(2 T))) ~ d sqrt(2 / pi) / (sigma sqrt T).
    d = np.array([1e-300, 1e-200, 1e-16, 1e-10, 1e-4])
    expected = d * math.sqrt(2 / math.pi) * (1 - d**2 / 6)
    np.testing.assert_allclose(th.deficit_cdf(d, 0.0, 1.0, 1.0), expected, rtol=1e-14)
    # Same near zero for other drifts: the density at 0 is 2 (phi(r) + r Phi(r)).
    for r in [-2.0, 0.5, 3.0]:
        density0 = 2 * (math.exp(-0.5 * r * r) / math.sqrt(2 * math.pi) + r * ndtr(r))
        assert th.deficit_cdf(1e-200, r, 1.0, 1.0) == pytest.approx(density0 * 1e-200, rel=1e-13)


# --------------------------------------------------------------------------- quantile


@pytest.mark.parametrize("mu", [-1.0, -1e-3, 0.0, 1e-3, 1.0])
@pytest.mark.parametrize("T", [1.0, 1e4])
def test_quantile_inverts_cdf(mu, T):
    sigma = 1.7
    q = np.array([1e-12, 1e-6, 0.01, 0.25, 0.5, 0.75, 0.99, 1 - 1e-6, 1 - 1e-12])
    d = th.deficit_quantile(q, mu, sigma, T)
    assert np.all(np.diff(d) > 0)
    lower = q <= 0.5
    np.testing.assert_allclose(th.deficit_cdf(d[lower], mu, sigma, T), q[lower], rtol=1e-10)
    np.testing.assert_allclose(th.deficit_sf(d[~lower], mu, sigma, T), 1 - q[~lower], rtol=1e-10)


@pytest.mark.parametrize("mu", [-0.3, 0.0, 0.3])
def test_cdf_then_quantile_returns_the_level(mu):
    sigma, T = 1.0, 50.0
    d = np.array([1e-8, 0.1, 1.0, 5.0, 10.0, 20.0])
    np.testing.assert_allclose(
        th.deficit_quantile(th.deficit_cdf(d, mu, sigma, T), mu, sigma, T), d, rtol=1e-10
    )


def test_quantile_edges_and_broadcasting():
    assert th.deficit_quantile(0.0, 0.1, 1.0, 10.0) == 0.0
    assert th.deficit_quantile(1.0, 0.1, 1.0, 10.0) == np.inf
    out = th.deficit_quantile(np.array([[0.1], [0.9]]), np.array([-0.1, 0.0, 0.1]), 1.0, 10.0)
    assert out.shape == (2, 3)
    assert np.all(out[1] > out[0])
    assert np.all(np.diff(out, axis=1) < 0)  # more drift, smaller reserve
    assert th.deficit_quantile(0.5, 0.0, 1.0, 1.0) == pytest.approx(0.6744897501960817, rel=1e-13)


# -------------------------------------------------------------------- property tests

mus = st.floats(-10.0, 10.0, allow_nan=False)
sigmas = st.floats(1e-3, 1e3, allow_nan=False)
horizons = st.floats(1e-3, 1e9, allow_nan=False)
TOL = 1e-12


@settings(max_examples=150, deadline=None)
@given(mu=mus, sigma=sigmas, T1=horizons, T2=horizons)
def test_expected_deficit_non_decreasing_in_T(mu, sigma, T1, T2):
    lo, hi = sorted([T1, T2])
    e_lo, e_hi = th.expected_deficit(mu, sigma, lo), th.expected_deficit(mu, sigma, hi)
    assert e_lo <= e_hi * (1 + TOL)


@settings(max_examples=150, deadline=None)
@given(mu1=mus, mu2=mus, sigma=sigmas, T=horizons)
def test_expected_deficit_non_increasing_in_mu(mu1, mu2, sigma, T):
    lo, hi = sorted([mu1, mu2])
    assert th.expected_deficit(hi, sigma, T) <= th.expected_deficit(lo, sigma, T) * (1 + TOL)


@settings(max_examples=150, deadline=None)
@given(mu=mus, s1=sigmas, s2=sigmas, T=horizons)
def test_expected_deficit_non_decreasing_in_sigma(mu, s1, s2, T):
    lo, hi = sorted([s1, s2])
    assert th.expected_deficit(mu, lo, T) <= th.expected_deficit(mu, hi, T) * (1 + TOL)


@settings(max_examples=150, deadline=None)
@given(mu=mus, sigma=sigmas, T=horizons)
def test_expected_deficit_finite_and_above_drift(mu, sigma, T):
    value = th.expected_deficit(mu, sigma, T)
    assert np.isfinite(value)
    assert value >= max(0.0, -mu * T)
    assert value > 0


@settings(max_examples=150, deadline=None)
@given(
    d1=st.floats(0.0, 1e12, allow_nan=False),
    d2=st.floats(0.0, 1e12, allow_nan=False),
    mu=mus,
    sigma=sigmas,
    T=horizons,
)
def test_sf_non_increasing_in_d(d1, d2, mu, sigma, T):
    lo, hi = sorted([d1, d2])
    sf_lo, sf_hi = th.deficit_sf([lo, hi], mu, sigma, T)
    assert 0.0 <= sf_hi <= sf_lo * (1 + TOL) + 1e-300
    assert sf_lo <= 1.0


# ------------------------------------------------------------ deviation and crossover


def test_deviation_at_zero_and_infinity():
    assert th.deviation_g(0.0) == 1.0
    r = np.array([1e2, 1e4, 1e6, 1e12])
    g = th.deviation_g(r)
    np.testing.assert_allclose(g, math.sqrt(math.pi / 2) / (2 * r), rtol=1e-3)
    np.testing.assert_array_equal(th.deviation_g(-r), g)
    assert np.all(np.diff(g) < 0) and g[-1] < 1e-12
    assert th.deviation_g(np.inf) == 0.0 and th.deviation_g(-np.inf) == 0.0


@pytest.mark.parametrize(
    ("mu", "sigma", "T"), [(-0.2, 1.0, 30.0), (0.05, 3.0, 1e3), (1.0, 0.5, 2.0)]
)
def test_deviation_matches_definition(mu, sigma, T):
    definition = (naive_expected_deficit(mu, sigma, T) - max(0.0, -mu * T)) / (
        sigma * math.sqrt(2 * T / math.pi)
    )
    assert th.deviation_g(mu * math.sqrt(T) / sigma) == pytest.approx(definition, rel=1e-12)


def test_deviation_continuous_at_series_switch():
    r = th._SERIES_CUTOFF * (1.0 + np.linspace(-1e-7, 1e-7, 1001))
    g = th.deviation_g(r)
    assert np.max(np.abs(np.diff(np.diff(g)))) < 1e-15


@pytest.mark.parametrize("mu", [-2.0, -1e-3, 1e-3, 0.5])
@pytest.mark.parametrize("sigma", [0.1, 4.0])
def test_crossover_time_balances_drift_and_fluctuation(mu, sigma):
    t_star = th.crossover_time(mu, sigma)
    assert abs(mu) * t_star == pytest.approx(sigma * math.sqrt(2 * t_star / math.pi), rel=1e-14)
    assert th.crossover_time(0.0, sigma) == np.inf


def test_regime_names():
    assert th.regime(-1.0) == "deficit"
    assert th.regime(0.0) == "critical"
    assert th.regime(1.0) == "surplus"
    assert th.regime(1e-3, tol=1e-2) == "critical"
    assert th.regime([-1.0, 0.0, 2.0]).tolist() == ["deficit", "critical", "surplus"]
    with pytest.raises(ValueError, match="tol"):
        th.regime(0.0, tol=-1.0)


def test_return_types():
    assert isinstance(th.expected_deficit(0.1, 1.0, 10.0), np.floating)
    assert isinstance(th.deficit_sf(1.0, 0.1, 1.0, 10.0), np.floating)
    out = th.expected_deficit(np.array([-0.1, 0.1]), np.array([[1.0], [2.0]]), 10.0)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2) and out.dtype == float


# ----------------------------------------------------------------------------- errors

CALLS = {
    "deficit_sf": lambda mu=0.1, sigma=1.0, T=10.0, d=1.0: th.deficit_sf(d, mu, sigma, T),
    "deficit_cdf": lambda mu=0.1, sigma=1.0, T=10.0, d=1.0: th.deficit_cdf(d, mu, sigma, T),
    "expected_deficit": lambda mu=0.1, sigma=1.0, T=10.0: th.expected_deficit(mu, sigma, T),
    "asymptote": lambda mu=0.1, sigma=1.0, T=10.0: th.expected_deficit_asymptote(mu, sigma, T),
    "deficit_quantile": lambda mu=0.1, sigma=1.0, T=10.0, q=0.5: th.deficit_quantile(
        q, mu, sigma, T
    ),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(
    ("name", "bad"),
    [("sigma", 0.0), ("sigma", -1.0), ("sigma", [1.0, -1.0]), ("T", 0.0), ("T", -5.0)],
)
def test_non_positive_scale_raises(call, name, bad):
    with pytest.raises(ValueError, match=f"{name} must be finite and > 0"):
        call(**{name: bad})


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("name", ["mu", "sigma", "T"])
def test_nan_raises(call, name):
    with pytest.raises(ValueError, match=f"{name} must not be NaN"):
        call(**{name: [1.0, np.nan]})


def test_nan_level_and_probability_raise():
    with pytest.raises(ValueError, match="d must not be NaN"):
        th.deficit_sf(np.nan, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="q must not be NaN"):
        th.deficit_quantile(np.nan, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"q must lie in \[0, 1\]"):
        th.deficit_quantile(1.5, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="r must not be NaN"):
        th.deviation_g(np.nan)
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        th.crossover_time(0.1, 0.0)
    with pytest.raises(ValueError, match="mu must not be NaN"):
        th.regime(np.nan)
