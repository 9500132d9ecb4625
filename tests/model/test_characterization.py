"""Model characterization, capability and DS3 budgets (docs/model.md §1-3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import comb

from energy_routing.model import ds3
from energy_routing.model.capability import Chinchilla, frontier_law, skill_probability
from energy_routing.model.hardware import (
    Hardware,
    token_coefficients,
    tokens_by_time,
    total_energy,
    total_time,
)


def test_frontier_constants_derived_from_chinchilla():
    law = frontier_law(Chinchilla())
    assert law.L_irr == pytest.approx(1.69)
    assert law.gamma == pytest.approx(0.34)
    assert law.Gamma == pytest.approx(900, rel=2e-3)
    # docs/model.md §2 by hand at the default model sizes.
    assert law.loss(1e9) == pytest.approx(1.69 + 406.4 * (1 + 0.34 / 0.28) * 1e9**-0.34)
    assert law.loss(1e10) == pytest.approx(2.0482509555357984, rel=1e-12)


@pytest.mark.parametrize("compute", [1e20, 1e22, 1e24])
def test_frontier_is_the_compute_optimal_loss(compute):
    """L(N) is Chinchilla's L(N, D) at the N minimising it for a budget C = 6 N D, found
    here numerically rather than from the alpha : beta ratio the package uses."""
    c = Chinchilla()

    def full_loss(log_n):
        n = math.exp(log_n)
        return c.E + c.A / n**c.alpha + c.B / (compute / (6 * n)) ** c.beta

    best = optimize.minimize_scalar(
        full_loss,
        bounds=(math.log(1e3), math.log(1e16)),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert best.success
    n_opt = math.exp(best.x)
    assert frontier_law(c).loss(n_opt) == pytest.approx(best.fun, rel=1e-9)


def test_token_coefficients_match_hand_values():
    c = token_coefficients(1e10, 48, 2048, Hardware())
    assert c.a == pytest.approx(1e10 * (1e-11 + 2e-12))
    assert c.b == pytest.approx(2 * 48 * 2048 * 1e-12)
    assert c.u == pytest.approx(1e10 / 5e12 + 2e10 / 2e13)
    assert c.v == pytest.approx(2 * 48 * 2048 / 2e13)


@given(st.integers(0, 5000))
def test_totals_are_sums_of_per_token_costs(n):
    a, b, u, v = 0.012, 2e-7, 3e-4, 1e-8
    c = np.arange(n)
    assert total_energy(n, a, b) == pytest.approx(np.sum(a + b * c), rel=1e-12, abs=1e-12)
    assert total_time(n, u, v) == pytest.approx(np.sum(u + v * c), rel=1e-12, abs=1e-12)


@given(st.floats(0, 1e6), st.floats(1e-6, 1e-2), st.floats(0, 1e-4))
def test_tokens_by_time_inverts_continuous_time(t, u, v):
    x = tokens_by_time(t, u, v)
    assert x >= 0
    assert u * x + v * x**2 / 2 == pytest.approx(t, rel=1e-10, abs=1e-12)


def test_skill_probability_sigmoid():
    assert skill_probability(2.0, 2.0, 5.0) == pytest.approx(0.5)
    assert skill_probability(2.2, 2.0, 5.0) == pytest.approx(1 / (1 + np.exp(-1.0)))
    # Lower difficulty (harder task) means lower success probability.
    p = skill_probability(np.linspace(1.6, 2.0, 9), 1.9, 5.0)
    assert np.all(np.diff(p) > 0)


def _binomial_tail(k, p, s):
    return sum(comb(k, j, exact=True) * p**j * (1 - p) ** (k - j) for j in range(s, k + 1))


@pytest.mark.parametrize("k,p,s", [(5, 0.3, 2), (20, 0.7, 10), (12, 0.5, 12), (3, 0.9, 4)])
def test_success_probability_against_binomial_sum(k, p, s):
    assert ds3.success_probability(k, p, s) == pytest.approx(_binomial_tail(k, p, s), abs=1e-14)


def test_success_probability_against_simulation():
    rng = np.random.default_rng(7)
    k, p, s, n = 40, 0.3, 10, 200_000
    hits = (rng.binomial(k, p, size=n) >= s).mean()
    exact = ds3.success_probability(k, p, s)
    assert abs(hits - exact) < 4 * np.sqrt(exact * (1 - exact) / n)


@pytest.mark.parametrize("s", [1, 2, 5, 10])
@pytest.mark.parametrize("tol", [0.01, 0.1, 0.37])
def test_min_attempts_against_brute_force(s, tol):
    ps = np.array([0.05, 0.2, 0.5, 0.9, 1.0])
    got = ds3.min_attempts(ps, s, tol, 10_000)
    for p, k in zip(ps, got, strict=True):
        brute = next(k for k in range(s, 10_000) if _binomial_tail(k, p, s) >= 1 - tol)
        assert k == brute


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-4, 1 - 1e-12), st.integers(1, 60), st.floats(0.01, 0.5))
def test_min_attempts_is_the_threshold(p, s, tol):
    (k,) = ds3.min_attempts([p], s, tol, 10**8)
    assert k >= s
    assert ds3.failure_probability(k, p, s) <= tol
    if k > s:
        assert ds3.failure_probability(k - 1, p, s) > tol


def test_min_attempts_extremes_are_fast_and_exact():
    k = ds3.min_attempts([1e-4, 1 - 1e-12], 50, 0.1, 10**7)
    assert k[1] == 50
    assert 50 / 1e-4 < k[0] < 1.2 * 50 / 1e-4


def test_min_attempts_cap_names_the_entry():
    with pytest.raises(ds3.AttemptCapError, match=r"hard task on 1B"):
        ds3.min_attempts([1e-3, 0.5], 50, 0.1, 1000, labels=["hard task on 1B", "easy"])


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, np.nan])
def test_min_attempts_rejects_bad_probability(bad):
    with pytest.raises(ValueError, match="p must lie"):
        ds3.min_attempts([bad], 5, 0.1, 100)
