"""Tests of the exact discrete-time theory of E[D_T] (docs/model.md §11).

Independent references: brute-force enumeration of every path of a tiny lattice walk, the
Lindley recursion W_t = max(0, W_{t-1} - X_t) (E[D_T] = E[W_T] by time reversal) computed by
dynamic programming over the integer lattice, conditioning on the Poisson task counts with
a Gamma harvest (closed-form Gamma CDFs), and the Monte Carlo engine itself.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammainc
from scipy.stats import poisson

from energy_routing import config
from energy_routing.engine import driver, streams
from energy_routing.model import grids
from energy_routing.model import workload as model_workload
from energy_routing.theory import diffusion as theory_diffusion
from energy_routing.theory import exact as theory_exact
from energy_routing.theory import increment, moments

CONFIG = "config/config.yaml"


@pytest.fixture(scope="module")
def workload():
    from snakerun import ROOT

    cfg = config.load(ROOT / CONFIG)
    return grids.workload(grids.task_grid(cfg), cfg, 1.0)


# ------------------------------------------------------------------ references


def compound_poisson_pmf(lam, atoms, probs, n_max):
    """P(C = n), n = 0..n_max, for integer atoms >= 1 (Panjer recursion)."""
    f = np.zeros(n_max + 1)
    for a, p in zip(atoms, probs, strict=True):
        if a <= n_max:
            f[int(a)] += p
    g = np.zeros(n_max + 1)
    g[0] = math.exp(-lam)
    for n in range(1, n_max + 1):
        j = np.arange(1, n + 1)
        g[n] = lam / n * np.sum(j * f[j] * g[n - j])
    return g


def lindley_expected_deficit(shift, lam, atoms, probs, T):
    """E[W_T], W_t = max(0, W_{t-1} + C_t - shift), by DP on the integers (E[D_T] = E[W_T])."""
    n_max = int(lam * max(atoms) * 3 + 20 * max(atoms) * math.sqrt(lam + 1) + 60)
    c = compound_poisson_pmf(lam, atoms, probs, n_max)
    assert 1.0 - c.sum() < 1e-15
    w = np.array([1.0])
    out = []
    for _ in range(T):
        conv = np.convolve(w, c)  # law of W + C on 0, 1, ...
        values = np.arange(conv.size) - int(shift)  # W + C - shift
        w = np.concatenate(([conv[values <= 0].sum()], conv[values > 0]))
        out.append(float(np.arange(w.size) @ w))
    return np.array(out)


def increment_outcomes(shift, lam, atoms, probs, tol=1e-13):
    """All values of one slot's X = shift - C with their probabilities (N truncated)."""
    values, weights = [], []
    n_max = int(poisson.isf(tol, lam)) + 2
    for n in range(n_max + 1):
        p_n = poisson.pmf(n, lam)
        for combo in itertools.product(range(len(atoms)), repeat=n):
            values.append(shift - sum(atoms[i] for i in combo))
            weights.append(p_n * math.prod(probs[i] for i in combo))
    values, weights = np.array(values, dtype=float), np.array(weights)
    merged, where = np.unique(values, return_inverse=True)
    return merged, np.bincount(where, weights=weights)


def enumerate_paths(values, weights, T):
    """E[max(0, -min_t S_t)] over every path of T slots (exhaustive)."""
    grids_ = np.meshgrid(*([values] * T), indexing="ij")
    probs = np.meshgrid(*([weights] * T), indexing="ij")
    s = np.zeros(grids_[0].shape)
    low = np.zeros_like(s)
    p = np.ones_like(s)
    for t in range(T):
        s = s + grids_[t]
        low = np.minimum(low, s)
        p = p * probs[t]
    return float(np.sum(p * -low)), float(p.sum())


def gamma_conditioning_negative_part(law, k, n_cap=60):
    """E[S_k^-] for a Gamma harvest and two atoms by summing over the two Poisson counts."""
    (e1, e2), (p1, p2) = law.energy_J, law.energy_prob
    a, theta = law.gamma_shape * k, law.gamma_scale_J
    n1 = np.arange(n_cap)[:, None]
    n2 = np.arange(n_cap)[None, :]
    lam = law.arrival_rate * k
    weight = poisson.pmf(n1, lam * p1) * poisson.pmf(n2, lam * p2)
    c = n1 * e1 + n2 * e2 - k * law.shift_J
    cc = np.maximum(c, 0.0)
    # E[(c - G)^+] = c F_a(c) - a theta F_{a+1}(c) for G ~ Gamma(a, theta), c > 0
    g = cc * gammainc(a, cc / theta) - a * theta * gammainc(a + 1, cc / theta)
    return float(np.sum(weight * np.where(c > 0, g, 0.0)))


# ------------------------------------------------------------------ the law


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.2])
@pytest.mark.parametrize("rho", [0.9, 1.0])
def test_law_moments_match_the_engine(workload, eps, rho):
    w = (
        workload
        if rho == 1.0
        else model_workload.Workload(
            **{**workload.__dict__, "harvest_mean_J": rho * workload.harvest_mean_J}
        )
    )
    law = increment.increment_law(w, eps)
    mu, sigma = moments.drift_volatility(w, eps)
    assert law.mean_J == pytest.approx(mu, abs=1e-9 * sigma)
    assert law.sigma_J == pytest.approx(sigma, rel=1e-12)
    assert law.routing_error == eps
    assert law.energy_prob.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_samples_of_the_law_have_its_cumulants(workload, eps):
    """The sampler the transition test's null walks with (docs/model.md §11.6): mean,
    variance and third cumulant of 400,000 draws within 4 standard errors of the law's."""
    law = increment.increment_law(workload, eps)
    x = law.sample(np.random.default_rng(3), 400_000)
    n, sigma = x.size, law.sigma_J
    assert abs(x.mean() - law.mean_J) < 4 * sigma / math.sqrt(n)
    assert abs(x.var() / law.variance_J2 - 1) < 4 * math.sqrt(
        law.cumulant(4) / sigma**4 + 2
    ) / math.sqrt(n)
    k3 = np.mean((x - x.mean()) ** 3)
    se3 = math.sqrt(np.var((x - x.mean()) ** 3) / n)
    assert abs(k3 - law.cumulant(3)) < 4 * se3
    det = increment.IncrementLaw(0.0, 0.0, 2.0, 0.5, [2.0, 4.0], [0.5, 0.5])
    y = det.sample(np.random.default_rng(0), 1000)
    assert set(np.unique(y)) <= {2.0 - 2 * k for k in range(40)}  # the lattice of the law


def test_law_of_a_config_goes_through_its_workload(workload):
    """The theory reads no config: a config's law is the law of its workload, and a config
    handed to the theory is refused with the call to make instead."""
    from snakerun import ROOT

    from energy_routing import config
    from energy_routing.model import grids

    cfg = config.load(ROOT / CONFIG)
    a = increment.increment_law(grids.workload(grids.task_grid(cfg), cfg), 0.1)
    b = increment.IncrementLaw.from_workload(workload, 0.1)
    assert np.array_equal(a.energy_J, b.energy_J) and np.array_equal(a.energy_prob, b.energy_prob)
    assert (a.gamma_shape, a.gamma_scale_J, a.shift_J) == (b.gamma_shape, b.gamma_scale_J, 0.0)
    for source in (cfg, ROOT / CONFIG):
        with pytest.raises(TypeError, match=r"grids\.workload"):
            increment.increment_law(source, 0.1)


def test_deterministic_harvest_becomes_the_shift(workload):
    w = model_workload.Workload(**{**workload.__dict__, "harvest_var_J2": 0.0})
    law = increment.increment_law(w, 0.0)
    assert law.gamma_shape == 0 and law.shift_J == w.harvest_mean_J
    with pytest.raises(ValueError, match="lattice"):
        theory_exact.exact_expected_deficit(law, None, 10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(energy_prob=[0.5, 0.6]), "sum to 1"),
        (dict(energy_J=[-1.0, 1.0]), "non-negative"),
        (dict(gamma_shape=-1.0), ">= 0"),
        (dict(gamma_scale_J=0.0), "gamma_scale_J"),
        (dict(arrival_rate=math.nan), "finite"),
        (dict(gamma_shape=0.0, shift_J=0.5, lattice_span_J=1.0), "multiples"),
    ],
)
def test_bad_laws_are_rejected(kwargs, match):
    base = dict(
        gamma_shape=1.0,
        gamma_scale_J=1.0,
        shift_J=0.0,
        arrival_rate=1.0,
        energy_J=[1.0, 2.0],
        energy_prob=[0.5, 0.5],
    )
    with pytest.raises(ValueError, match=match):
        increment.IncrementLaw(**{**base, **kwargs})


def test_bad_arguments_are_rejected(workload):
    law = increment.increment_law(workload, 0.1)
    with pytest.raises(ValueError, match="routing_error"):
        theory_exact.exact_expected_deficit(law, 0.2, 10)
    with pytest.raises(ValueError, match="whole numbers"):
        theory_exact.exact_expected_deficit(law, None, 10.5)
    with pytest.raises(ValueError, match="whole numbers"):
        theory_exact.exact_expected_deficit(law, None, -1)
    with pytest.raises(ValueError, match="routing_error"):
        increment.IncrementLaw.from_workload(workload, 1.5)
    assert theory_exact.exact_expected_deficit(law, 0.1, 0) == 0.0


# ------------------------------------------------------------------ exactness


def test_tiny_lattice_walk_against_every_path():
    shift, lam, atoms, probs = 1.0, 0.6, [1.0, 2.0], [0.7, 0.3]
    values, weights = increment_outcomes(shift, lam, atoms, probs, tol=1e-9)
    law = increment.IncrementLaw(0.0, 0.0, shift, lam, atoms, probs)
    for T in (1, 2, 3):
        brute, mass = enumerate_paths(values, weights, T)
        assert mass > 1 - 1e-7
        assert theory_exact.exact_expected_deficit(law, None, T) == pytest.approx(brute, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    shift=st.integers(0, 4),
    lam=st.floats(0.1, 2.5),
    atoms=st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True),
    seed=st.integers(0, 2**16),
)
def test_lattice_walks_against_the_lindley_recursion(shift, lam, atoms, seed):
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(atoms)))
    law = increment.IncrementLaw(0.0, 0.0, float(shift), lam, atoms, probs)
    T = np.arange(1, 41)
    exact = theory_exact.exact_expected_deficit(law, None, T)
    reference = lindley_expected_deficit(shift, lam, atoms, probs, 40)
    np.testing.assert_allclose(exact, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape, shift", [(0.9, 0.0), (0.25, 0.0), (3.0, -0.7), (0.5, 1.3)])
def test_gamma_harvest_against_conditioning_on_the_counts(shape, shift):
    law = increment.IncrementLaw(shape, 2.0, shift, 0.8, [1.5, 4.0], [0.6, 0.4])
    exact = theory_exact.exact_negative_parts(law, None, 12)
    reference = [gamma_conditioning_negative_part(law, k) for k in range(1, 13)]
    np.testing.assert_allclose(exact, reference, rtol=1e-9)


def test_spitzer_sum_reproduces_lindley_for_poisson_counts():
    """E[D_T] of the doc example (Poisson(1) tasks of 1 J, 1 J harvest) two ways."""
    law = increment.IncrementLaw(0.0, 0.0, 1.0, 1.0, [1.0], [1.0])
    reference = lindley_expected_deficit(1, 1.0, [1], [1.0], 200)
    exact = theory_exact.exact_expected_deficit(law, None, np.arange(1, 201))
    np.testing.assert_allclose(exact, reference, rtol=1e-10)


# ------------------------------------------------------------------ the expansion


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_tail_expansion_stays_inside_its_bound(workload, eps):
    law = increment.increment_law(workload, eps)
    T = np.array([200, 700, 1500, 3000])
    short = theory_exact.exact_deficit_curve(law, None, T, cutoff=128)
    long = theory_exact.exact_deficit_curve(law, None, T, cutoff=3000)
    err = np.abs(short.expected_J - long.expected_J)
    assert np.all(err[1:] <= short.error_bound_J[1:] + long.error_bound_J[1:])
    assert np.all(err / long.expected_J < 1e-6)
    assert short.cutoff == 128 and long.cutoff == 3000


def test_expansion_converges_at_its_order(workload):
    law = increment.increment_law(workload, 0.1)
    k = np.array([64, 128, 256, 512])
    exact = theory_exact.exact_negative_parts(law, None, 512)[k - 1]
    errors = [
        np.abs(exact - theory_exact.edgeworth_negative_part(law, None, k, order=o))
        for o in range(6)
    ]
    assert np.all(errors[2] < errors[0]) and np.all(errors[4] < errors[2])
    assert np.all(errors[5] < errors[3])
    # all five terms leave a remainder decaying at least like sigma k^-5/2 (c = O(1) here)
    assert errors[5][-1] * 512**2.5 < 2 * errors[5][0] * 64**2.5


def test_far_horizons_take_seconds_and_approach_the_asymptotes(workload):
    import time

    law = increment.increment_law(workload, 0.0)
    start = time.perf_counter()
    curve = theory_exact.exact_deficit_curve(law, None, [1e6, 1e9])
    assert time.perf_counter() - start < 10.0
    delta = theory_exact.ladder_offset(law)
    gap = theory_diffusion.expected_deficit(0.0, law.sigma_J, curve.T) - curve.expected_J
    assert gap[-1] == pytest.approx(delta, abs=1e-2)  # O(sigma / sqrt(T)) left
    assert np.all(curve.error_bound_J / curve.expected_J < 1e-8)

    deficit = increment.increment_law(workload, 0.2)
    far = theory_exact.exact_expected_deficit(deficit, None, 1e9)
    plain = theory_diffusion.expected_deficit(
        deficit.mean_J, deficit.sigma_J, 1e9
    )  # |mu| T + sigma^2 / 2|mu|
    assert plain - far == pytest.approx(theory_exact.ladder_offset(deficit), rel=0.15)


@settings(max_examples=15, deadline=None)
@given(
    shape=st.floats(0.3, 5.0),
    mean_ratio=st.floats(0.7, 1.3),
    lam=st.floats(0.3, 3.0),
)
def test_exact_curve_is_non_decreasing_and_above_the_drift(shape, mean_ratio, lam):
    atoms, probs = np.array([1.0, 2.5]), np.array([0.5, 0.5])
    scale = mean_ratio * lam * float(atoms @ probs) / shape
    law = increment.IncrementLaw(shape, scale, 0.0, lam, atoms, probs)
    T = np.array([1, 2, 5, 10, 100, 1000, 5000, 10**6])
    curve = theory_exact.exact_deficit_curve(law, None, T, cutoff=256)
    y, tol = curve.expected_J, curve.error_bound_J
    assert np.all(np.diff(y) > -(tol[1:] + tol[:-1]))  # saturates under a surplus
    assert np.all(y >= np.maximum(0.0, -law.mean_J * T) - curve.error_bound_J)
    assert np.all(curve.error_bound_J / y < 1e-5)


# ------------------------------------------------------------------ corrected diffusion


def test_gaussian_like_steps_give_the_gaussian_ladder_offset():
    # Gamma(400) - Poisson(400): skewness 0.018, nearly Gaussian steps
    law = increment.IncrementLaw(400.0, 1.0, 0.0, 400.0, [1.0], [1.0])
    beta = 1.4603545088095868 / math.sqrt(2 * math.pi)  # -zeta(1/2) / sqrt(2 pi) = 0.5826
    assert theory_exact.ladder_offset(law, cutoff=256) / law.sigma_J == pytest.approx(
        beta, rel=2e-3
    )


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.2])
def test_corrected_diffusion_beats_the_plain_one(workload, eps):
    law = increment.increment_law(workload, eps)
    T = np.array([10, 100, 1e3, 1e4, 1e5, 1e6])
    exact = theory_exact.exact_expected_deficit(law, None, T)
    delta = theory_exact.ladder_offset(law)
    plain = theory_diffusion.expected_deficit(law.mean_J, law.sigma_J, T)
    corrected = theory_diffusion.corrected_expected_deficit(law.mean_J, law.sigma_J, T, delta)
    assert np.all(np.abs(corrected - exact) < 0.1 * np.abs(plain - exact))
    assert np.all(np.abs(corrected / exact - 1)[1:] < 3e-3)


def test_corrected_diffusion_limits():
    T = np.array([1.0, 1e2, 1e8])
    assert np.array_equal(
        theory_diffusion.corrected_expected_deficit(0.0, 1.0, T, 0.0),
        theory_diffusion.expected_deficit(0.0, 1.0, T),
    )
    y = theory_diffusion.corrected_expected_deficit(0.0, 1.0, T, 0.6)
    assert np.all(y > 0) and np.all(y < theory_diffusion.expected_deficit(0.0, 1.0, T))
    assert y[-1] == pytest.approx(theory_diffusion.expected_deficit(0.0, 1.0, 1e8) - 0.6, rel=1e-8)


# ------------------------------------------------------------------ the engine


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_engine_agrees_within_standard_errors(workload, eps):
    cps = np.array([100, 300, 1000, 3000, 10_000, 30_000, 100_000])
    n = 240
    res = driver.simulate(
        workload,
        routing_error=eps,
        checkpoints=cps,
        trials=n,
        root_seed=20260111,
        scenario_key=streams.scenario_key("test-exact"),
        consumption=("lumped",),
    )
    d = res.deficit_J[0]
    z = (d.mean(0) - theory_exact.exact_expected_deficit(workload, eps, cps)) / (
        d.std(0, ddof=1) / math.sqrt(n)
    )
    assert np.max(np.abs(z)) < 3.5


def test_engine_resolves_the_offset_that_the_diffusion_misses(workload):
    """Many short paths: the exact value fits, the diffusion is several errors too high."""
    cps = np.array([10, 30, 100])
    n = 6000
    res = driver.simulate(
        workload,
        routing_error=0.0,
        checkpoints=cps,
        trials=n,
        root_seed=7,
        scenario_key=streams.scenario_key("test-exact-short"),
        consumption=("lumped",),
    )
    d = res.deficit_J[0]
    se = d.std(0, ddof=1) / math.sqrt(n)
    law = increment.increment_law(workload, 0.0)
    z_exact = (d.mean(0) - theory_exact.exact_expected_deficit(law, None, cps)) / se
    z_plain = (d.mean(0) - theory_diffusion.expected_deficit(law.mean_J, law.sigma_J, cps)) / se
    assert np.max(np.abs(z_exact)) < 3.5
    assert np.all(z_plain < -5)


@pytest.mark.parametrize("rho", [0.95, 1.0, 1.05])
def test_sweep_horizons_do_not_depend_on_the_cutoff(rho):
    """Fig. 2's reference near the critical point (the default sweep, T up to 2e5): the tail
    beyond K is the Edgeworth expansion, so a bias there would move with K. Moving K from
    256 to 4096 slots changes E[D_T] by less than the two stated error bounds."""
    from snakerun import ROOT

    cfg = config.load(ROOT / CONFIG)
    wl = grids.workload(grids.task_grid(cfg), cfg, rho)
    T = np.array([2_000, 10_000, 50_000, 200_000])
    short = theory_exact.exact_deficit_curve(wl, 0.0, T, cutoff=256)
    long = theory_exact.exact_deficit_curve(wl, 0.0, T, cutoff=4096)
    assert np.all(
        np.abs(short.expected_J - long.expected_J) <= short.error_bound_J + long.error_bound_J
    )
    # Far below any Monte Carlo standard error of the sweep (hundreds of J).
    assert np.all(long.error_bound_J < 1e-3)
