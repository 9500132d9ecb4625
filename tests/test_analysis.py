"""Tables from Monte Carlo datasets: K-S distance, bootstrap slopes and fit windows."""

from __future__ import annotations

import numpy as np
import pytest

from energy_routing import analysis, theory


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


def test_fit_window():
    assert analysis.fit_window(None, 34) == analysis.FIT_FROM_SERVICES * 34
    assert analysis.fit_window(100.0, 34) == 100.0
