"""Tables from Monte Carlo datasets: K-S distance, bootstrap slopes and fit windows."""

from __future__ import annotations

import numpy as np
import pytest

from energy_routing import analysis, grids, montecarlo, theory


def test_ks_distance_small_for_closed_form_samples_large_for_shifted():
    rng = np.random.default_rng(3)
    mu, sigma, T, n = -0.5, 10.0, 400.0, 2000
    samples = theory.deficit_quantile(rng.random(n), mu, sigma, T)
    # The K-S statistic exceeds 1.63/sqrt(n) with probability 1%.
    assert analysis.ks_distance(samples, mu, sigma, T) < 1.63 / np.sqrt(n)
    assert analysis.ks_distance(samples * 1.3, mu, sigma, T) > 5 / np.sqrt(n)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_bootstrap_slope_recovers_power(power):
    rng = np.random.default_rng(5)
    T = np.geomspace(10, 1e5, 60)
    trials = 300
    curves = (1 + T) ** power * rng.lognormal(0.0, 0.3, size=(trials, 1))
    curves *= 1 + 0.01 * rng.standard_normal((trials, T.size))
    slope, lo, hi = analysis.bootstrap_slope(curves, T, t_from=1e3, seed=1)
    assert lo <= slope <= hi
    assert lo - 0.01 <= power <= hi + 0.01
    assert hi - lo < 0.05


def test_slope_window_moves_past_crossover():
    T = np.geomspace(10, 2e5, 120).round()
    assert analysis.slope_window(T, 0.0, 900.0, None) == pytest.approx(np.sqrt(10 * 2e5))
    t_star = float(theory.crossover_time(-30.0, 900.0))
    start = analysis.slope_window(T, -30.0, 900.0, None)
    assert start == pytest.approx(min(analysis.SLOPE_WINDOW_T_STAR * t_star, T[-5]))
    assert analysis.slope_window(T, -30.0, 900.0, 5e4) == 5e4


def _variance_ratio(grid, cfg, horizon: int) -> np.ndarray:
    """Var(B_t) / (sigma^2 t) for t = 1..horizon under distributed consumption at zero
    routing error, from the compound-Poisson law (docs/model.md §5-7).

    A task that arrived k slots before t (k = 1..S) has drawn P(k), the sum of the first k
    entries of its profile; Poisson arrivals make the consumption up to t a compound
    Poisson sum with variance lambda sum_k E[P(k)^2]. The lumped walk has P(k) = e for all
    k, hence Var(B_t) = sigma^2 t exactly (Lemma 2).
    """
    lam = float(cfg["arrival_rate"])
    models = list(grid.model.values)
    chosen = [models.index(m) for m in grid.best_model.values]
    profile = np.stack([grid.profile_J.to_numpy()[i, m] for i, m in enumerate(chosen)])
    mix = grid.mix.to_numpy()
    energy = profile.sum(axis=1)
    harvest_var = cfg["harvest"]["variance_scale"] * lam * mix @ energy**2
    sigma2 = harvest_var + lam * mix @ energy**2
    drawn = np.cumsum(profile, axis=1)  # P_i(k), k = 1..S
    per_lag = np.concatenate([mix @ drawn**2, np.full(horizon - drawn.shape[1], mix @ energy**2)])
    t = np.arange(1, horizon + 1)
    return (harvest_var * t + lam * np.cumsum(per_lag[:horizon])) / (sigma2 * t)


def test_fit_window_starts_where_the_distributed_walk_is_diffusive(default_cfg, default_grid):
    """The default regime fit starts where B_t of the default workload has the diffusive
    variance sigma^2 T (docs/model.md §7, §9), and not one service length in."""
    service = int(default_grid.service_slots.max())
    start = analysis.fit_window(None, service)
    horizon = 1_000_000
    ratio = _variance_ratio(default_grid, default_cfg, horizon)
    assert ratio[service - 1] < 0.9  # one service in: a task's energy is still arriving
    assert np.all(np.abs(ratio[int(start) - 1 :] - 1) < 0.05)

    # The engine agrees: at T = one service the distributed walk is not yet diffusive,
    # at the fit window it is; the lumped walk is diffusive from the start.
    wl = grids.workload(default_grid, default_cfg)
    mu, sigma = montecarlo.drift_volatility(wl, 0.0)
    assert mu == pytest.approx(0.0, abs=1e-9 * sigma)
    cps = np.array([service, int(start)])
    trials = 2000
    result = montecarlo.simulate(
        wl,
        routing_error=0.0,
        checkpoints=cps,
        trials=trials,
        root_seed=11,
        scenario_key=0,
        chunk_slots=1024,
    )
    se = np.sqrt(2 / (trials - 1))  # relative standard error of a sample variance
    for k, mode in enumerate(result.consumption):
        measured = result.battery_J[k].var(axis=0, ddof=1) / (sigma**2 * cps)
        expected = ratio[cps - 1] if mode == "distributed" else np.ones(2)
        np.testing.assert_allclose(measured, expected, rtol=4 * se, err_msg=mode)


def test_fit_window_takes_an_explicit_start():
    assert analysis.fit_window(100.0, 34) == 100.0
    assert analysis.fit_window(0.0, 34) == 0.0
