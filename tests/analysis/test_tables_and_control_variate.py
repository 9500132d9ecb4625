"""Tables from Monte Carlo datasets: K-S distance, bootstrap slopes and fit windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_routing.analysis import control_variate, tables
from energy_routing.engine import driver, streams
from energy_routing.model import grids
from energy_routing.theory import diffusion, moments
from energy_routing.theory import exact as theory_exact


def test_ks_distance_small_for_closed_form_samples_large_for_shifted():
    rng = np.random.default_rng(3)
    mu, sigma, T, n = -0.5, 10.0, 400.0, 2000
    samples = diffusion.deficit_quantile(rng.random(n), mu, sigma, T)
    # The K-S statistic exceeds 1.63/sqrt(n) with probability 1%.
    assert tables.ks_distance(samples, mu, sigma, T) < 1.63 / np.sqrt(n)
    assert tables.ks_distance(samples * 1.3, mu, sigma, T) > 5 / np.sqrt(n)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_bootstrap_slope_recovers_power(power):
    rng = np.random.default_rng(5)
    T = np.geomspace(10, 1e5, 60)
    trials = 300
    curves = (1 + T) ** power * rng.lognormal(0.0, 0.3, size=(trials, 1))
    curves *= 1 + 0.01 * rng.standard_normal((trials, T.size))
    slope, lo, hi = tables.bootstrap_slope(curves, T, t_from=1e3, seed=1)
    assert lo <= slope <= hi
    assert lo - 0.01 <= power <= hi + 0.01
    assert hi - lo < 0.05


def test_slope_window_moves_past_crossover():
    T = np.geomspace(10, 2e5, 120).round()
    assert tables.slope_window(T, 0.0, 900.0, None) == pytest.approx(np.sqrt(10 * 2e5))
    t_star = float(diffusion.crossover_time(-30.0, 900.0))
    start = tables.slope_window(T, -30.0, 900.0, None)
    assert start == pytest.approx(min(tables.SLOPE_WINDOW_T_STAR * t_star, T[-5]))
    assert tables.slope_window(T, -30.0, 900.0, 5e4) == 5e4


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
    start = tables.fit_window(None, service)
    horizon = 1_000_000
    ratio = _variance_ratio(default_grid, default_cfg, horizon)
    assert ratio[service - 1] < 0.9  # one service in: a task's energy is still arriving
    assert np.all(np.abs(ratio[int(start) - 1 :] - 1) < 0.05)

    # The engine agrees: at T = one service the distributed walk is not yet diffusive,
    # at the fit window it is; the lumped walk is diffusive from the start.
    wl = grids.workload(default_grid, default_cfg)
    mu, sigma = moments.drift_volatility(wl, 0.0)
    assert mu == pytest.approx(0.0, abs=1e-9 * sigma)
    cps = np.array([service, int(start)])
    trials = 2000
    result = driver.simulate(
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
    assert tables.fit_window(100.0, 34) == 100.0
    assert tables.fit_window(0.0, 34) == 0.0


# ------------------------------------------------------------ the control variate


def test_control_variate_is_unbiased_and_its_standard_error_is_right():
    """Many replications of a non-linear Y = exp(X / 2) + noise with X ~ N(0, 1): the
    estimate's mean is E[Y] = exp(1/8) and its z-scores have unit spread; the plain mean
    is correct too but noisier."""
    rng = np.random.default_rng(11)
    reps, n = 4000, 60
    x = rng.standard_normal((reps, n))
    y = np.exp(x / 2) + 0.3 * rng.standard_normal((reps, n))
    truth = np.exp(1 / 8)
    est = control_variate.control_variate_mean(
        y.T, x.T, 0.0
    )  # trials on axis 0, replications after
    z = (est.mean - truth) / est.sem
    z_plain = (est.plain_mean - truth) / est.plain_sem
    # Unbiased: the mean error is well inside its own Monte Carlo error (sd / sqrt(reps)).
    assert abs(np.mean(est.mean - truth)) < 3 * np.std(est.mean) / np.sqrt(reps)
    assert abs(z.mean()) < 0.1
    assert 0.93 < z.std() < 1.07
    assert abs(z_plain.mean()) < 0.1
    # The standard error matches the estimate's actual spread, and beats the plain one.
    assert np.sqrt(np.mean(est.sem**2)) == pytest.approx(np.std(est.mean), rel=0.06)
    assert np.std(est.mean) < 0.75 * np.std(est.plain_mean)
    assert np.mean(np.abs(z) <= 2) == pytest.approx(0.954, abs=0.02)


def test_control_variate_degenerate_cases():
    rng = np.random.default_rng(2)
    x = rng.normal(5.0, 2.0, size=(50, 3))
    # Y exactly linear in X: the estimate is the line at E[X], with no error left.
    est = control_variate.control_variate_mean(1.5 + 3.0 * x, x, 4.0)
    np.testing.assert_allclose(est.mean, 1.5 + 3.0 * 4.0, rtol=1e-12)
    np.testing.assert_allclose(est.beta, 3.0, rtol=1e-12)
    assert np.all(est.sem < 1e-10)
    # Shifting the control and its known mean together changes nothing; scaling Y scales
    # the estimate and its standard error.
    y = x**2 + rng.standard_normal(x.shape)
    est = control_variate.control_variate_mean(y, x, 4.0)
    moved = control_variate.control_variate_mean(-2.5 * y, x + 7.0, 11.0)
    np.testing.assert_allclose(moved.mean, -2.5 * est.mean, rtol=1e-10)
    np.testing.assert_allclose(moved.sem, 2.5 * est.sem, rtol=1e-10)
    # A constant control carries no information: the plain mean and its standard error.
    est = control_variate.control_variate_mean(y, np.ones_like(y), 1.0)
    np.testing.assert_allclose(est.mean, y.mean(axis=0))
    np.testing.assert_allclose(est.sem, y.std(axis=0, ddof=1) / np.sqrt(len(y)))
    np.testing.assert_array_equal(est.beta, 0.0)
    with pytest.raises(ValueError, match="shape"):
        control_variate.control_variate_mean(y, x[:, :2], 0.0)
    with pytest.raises(ValueError, match="3 trials"):
        control_variate.control_variate_mean(y[:2], x[:2], 0.0)


def test_several_controls_are_unbiased_and_beat_each_one_alone():
    """Y = max(X1, X2) + noise with two correlated normal controls: the estimate with both
    is unbiased with a right standard error, and more precise than with either alone."""
    rng = np.random.default_rng(5)
    reps, n = 3000, 50
    z1, z2 = rng.standard_normal((2, n, reps))
    x = np.stack([z1, 0.6 * z1 + 0.8 * z2], axis=-1)  # (trial, rep, control)
    y = np.maximum(x[..., 0], x[..., 1]) + 0.2 * rng.standard_normal((n, reps))
    truth = np.sqrt(0.4 / np.pi)  # E[max] of two unit normals with correlation 0.6
    both = control_variate.control_variate_mean(y, x, [0.0, 0.0])
    z = (both.mean - truth) / both.sem
    assert abs(np.mean(both.mean - truth)) < 3 * np.std(both.mean) / np.sqrt(reps)
    assert abs(z.mean()) < 0.1 and 0.93 < z.std() < 1.1
    assert np.sqrt(np.mean(both.sem**2)) == pytest.approx(np.std(both.mean), rel=0.08)
    assert both.beta.shape == (reps, 2)
    for k in (0, 1):
        alone = control_variate.control_variate_mean(y, x[..., k], 0.0)
        assert np.std(both.mean) < 0.9 * np.std(alone.mean)


def test_several_controls_degenerate_cases():
    rng = np.random.default_rng(8)
    x = rng.normal(2.0, 1.5, size=(40, 5, 2))
    y = np.sin(x[..., 0]) + x[..., 1] ** 2 + rng.standard_normal((40, 5))
    one = control_variate.control_variate_mean(y, x[..., 0], 1.0)
    # A single control on a trailing axis is the one-control estimator.
    trailing = control_variate.control_variate_mean(y, x[..., :1], [1.0])
    np.testing.assert_allclose(trailing.mean, one.mean, rtol=1e-12)
    np.testing.assert_allclose(trailing.sem, one.sem, rtol=1e-12)
    np.testing.assert_allclose(trailing.beta[..., 0], one.beta, rtol=1e-12)
    # A constant control or a repeated one adds nothing.
    const = np.concatenate([x[..., :1], np.full_like(x[..., :1], 3.0)], axis=-1)
    est = control_variate.control_variate_mean(y, const, [1.0, 3.0])
    np.testing.assert_allclose(est.mean, one.mean, rtol=1e-10)
    np.testing.assert_array_equal(est.beta[..., 1], 0.0)
    twice = control_variate.control_variate_mean(y, x[..., [0, 0]], [1.0, 1.0])
    np.testing.assert_allclose(twice.mean, one.mean, rtol=1e-8)
    np.testing.assert_allclose(twice.sem, one.sem, rtol=1e-8)
    # Y exactly linear in both controls: the line at their known means, no error left.
    exact = control_variate.control_variate_mean(0.5 + x @ [2.0, -1.0], x, [1.0, 4.0])
    np.testing.assert_allclose(exact.mean, 0.5 + 2.0 - 4.0, rtol=1e-10)
    np.testing.assert_allclose(exact.beta, np.broadcast_to([2.0, -1.0], (5, 2)), rtol=1e-10)
    assert np.all(exact.sem < 1e-10)
    with pytest.raises(ValueError, match="shape"):
        control_variate.control_variate_mean(y, x[:, :3], [0.0, 0.0])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(8, 60),
    p=st.integers(1, 4),
    scale=st.floats(1e-3, 1e3),
)
def test_the_estimate_does_not_depend_on_how_the_controls_are_written(seed, n, p, scale):
    """Any invertible linear recombination and shift of the controls (with their known
    means carried along) spans the same controls: the estimate and its standard error
    stay the same."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * scale
    y = np.abs(x).sum(axis=1) + rng.standard_normal(n)
    m = rng.standard_normal(p)
    a = rng.standard_normal((p, p)) + 3.0 * np.eye(p)  # well conditioned
    shift = rng.standard_normal(p) * scale
    est = control_variate.control_variate_mean(y, x, m)
    moved = control_variate.control_variate_mean(y, x @ a + shift, m @ a + shift)
    np.testing.assert_allclose(moved.mean, est.mean, rtol=1e-7, atol=1e-9 * np.abs(y).max())
    np.testing.assert_allclose(moved.sem, est.sem, rtol=1e-6, atol=1e-9 * np.abs(y).max())


def test_dyadic_controls_halve_down_to_the_first_checkpoint():
    T = driver.log_checkpoints(10, 200_000, 120)
    ctl = control_variate.dyadic_controls(T)
    assert len(ctl) == len(T)
    for j, idx in enumerate(ctl):
        assert idx[-1] == j and np.all(np.diff(idx) > 0)  # T itself, earlier ones, no repeats
        assert len(idx) <= np.floor(np.log2(T[j] / T[0])) + 1
        # Each is within a checkpoint spacing of a power-of-two fraction of T.
        ratio = np.log2(T[j] / T[idx])
        assert np.all(np.abs(ratio - np.round(ratio)) < 0.2)
    assert len(ctl[-1]) == 15  # 2e5 / 2^14 = 12.2 >= 10
    # Thinned: at most that many, T itself always, spread from early to late.
    for m in (1, 2, 5, 10, 15, 40):
        thin = control_variate.dyadic_controls(T, m)
        for j, idx in enumerate(thin):
            assert idx[-1] == j and len(idx) == min(m, len(ctl[j]))
            assert set(idx) <= set(ctl[j])
        if 2 <= m <= 15:
            assert thin[-1][0] == ctl[-1][0]  # the earliest position stays
    for bad in ([], [0, 10], [10, 10], [[10, 20]]):
        with pytest.raises(ValueError, match="checkpoints"):
            control_variate.dyadic_controls(bad)


def _sweep_dataset(default_cfg, default_grid, rho, seed, trials, cps, modes=("lumped",)):
    """One sweep-like engine run as a merged-style dataset (docs/model.md §6, §9)."""
    import xarray as xr  # noqa: F401  (the dataset type)

    from energy_routing.io import netcdf

    wl = grids.workload(default_grid, default_cfg, rho)
    res = driver.simulate(
        wl,
        routing_error=0.0,
        checkpoints=cps,
        trials=trials,
        root_seed=seed,
        scenario_key=streams.scenario_key(f"test-cv-rho{rho:g}"),
        consumption=modes,
    )
    mu, sigma = moments.drift_volatility(wl, 0.0)
    ds = netcdf.result_to_dataset(
        res, routing_error=0.0, mu=mu, sigma=sigma, attrs={"provisioning": rho}, dt_s=1.0
    )
    ds["deficit_mean_J"] = ds.deficit_J.mean("trial")
    ds["deficit_sem_J"] = ds.deficit_J.std("trial", ddof=1) / np.sqrt(ds.sizes["trial"])
    return wl, ds


@pytest.mark.parametrize("rho", [0.95, 1.0, 1.1])
def test_control_variate_on_the_engine_is_standard_normal_against_exact_theory(
    default_cfg, default_grid, rho
):
    """Lumped engine runs at 16 seeds: the control-variate z against the exact discrete
    E[D_T] (docs/model.md §11) is N(0, 1)-ish (mean, spread, chi-square), the control's own
    mean is mu T, and the walk's positions at T, T/2, T/4, ... take out more noise than
    its position at T alone wherever the deficit is not simply -S_T."""
    cps = driver.log_checkpoints(10, 10_000, 40)
    zs, zx, ratio, ratio_one = [], [], [], []
    for seed in range(16):
        wl, ds = _sweep_dataset(default_cfg, default_grid, rho, seed, 150, cps)
        y, se = control_variate.mean_deficit_curve(ds, 0.0, "lumped")
        exact = theory_exact.exact_deficit_curve(wl, 0.0, cps).expected_J
        zs.append((y - exact) / se)
        d = ds.deficit_J.sel(consumption="lumped").isel(routing_error=0).to_numpy()
        s = ds.battery_J.sel(consumption="lumped").isel(routing_error=0).to_numpy()
        mu = float(ds.mu_J_per_slot[0])
        zx.append((s.mean(0) - mu * cps) / (s.std(0, ddof=1) / np.sqrt(len(s))))
        one = control_variate.control_variate_mean(d, s, mu * cps)
        ratio.append(se[-1] / one.plain_sem[-1])
        ratio_one.append(se[-1] / one.sem[-1])
    zs, zx = np.array(zs), np.array(zx)
    last = zs[:, -1]  # independent across seeds
    assert abs(last.mean()) < 3 / np.sqrt(len(last))
    assert 0.5 < last.std(ddof=1) < 1.6
    assert float(np.sum(last**2)) < 40.0  # chi-square, 16 dof: p < 0.001 above 39.3
    assert np.max(np.abs(zs)) < 4.5  # 16 x 40 correlated z
    assert np.max(np.abs(zx)) < 4.5
    if rho < 1:
        # The deficit side: D_T ~ -S_T, the control removes most of the noise.
        assert np.median(ratio) < 0.3
    else:
        # Critical and surplus: the earlier positions matter (7 controls for 150 trials;
        # measured 0.88 and 0.69 of the error with the position at T alone).
        assert np.median(ratio_one) < (0.95 if rho == 1 else 0.8)
        assert np.median(ratio) < (0.6 if rho == 1 else 0.8)


def test_control_variate_serves_distributed_consumption_with_the_lumped_walk(
    default_cfg, default_grid
):
    """The distributed deficit shares the lumped walk's randomness, so the lumped position
    is its control too: the estimate agrees with the plain mean and is more precise."""
    cps = np.array([1000, 5000, 20_000])
    _, ds = _sweep_dataset(
        default_cfg, default_grid, 0.95, 3, 200, cps, modes=("lumped", "distributed")
    )
    for mode in ("lumped", "distributed"):
        y, se = control_variate.mean_deficit_curve(ds, 0.0, mode)
        y0, se0 = control_variate.mean_deficit_curve(ds, 0.0, mode, "plain")
        np.testing.assert_allclose(y0, ds.deficit_mean_J.sel(consumption=mode)[0])
        assert np.all(np.abs(y - y0) < 4 * se0)
        assert np.all(se < 0.5 * se0)
    # Without a lumped battery there is no control: the plain mean.
    dist = ds.sel(consumption=["distributed"])
    y, se = control_variate.mean_deficit_curve(dist, 0.0, "distributed")
    np.testing.assert_array_equal(se, dist.deficit_sem_J.sel(consumption="distributed")[0])
    with pytest.raises(ValueError, match="estimator"):
        control_variate.mean_deficit_curve(ds, 0.0, "lumped", "bootstrap")


def test_deviation_points_carry_both_estimates_and_agreement_reads_either(
    default_cfg, default_grid
):
    cps = driver.log_checkpoints(10, 20_000, 40)
    wl, ds = _sweep_dataset(default_cfg, default_grid, 0.95, 5, 100, cps)
    pts = tables.deviation_points({"s": ds}, workloads={"s": wl}, per_scenario=100)
    T = ds.time.to_numpy().astype(float)
    mu, sigma = float(ds.mu_J_per_slot[0]), float(ds.sigma_J_per_sqrt_slot[0])
    keep = np.isin(T, pts["T"])
    scale = sigma * np.sqrt(2 * T[keep] / np.pi)
    plain = ds.deficit_mean_J.sel(consumption="lumped")[0].to_numpy()[keep]
    np.testing.assert_allclose(pts["g_plain"], (plain - np.maximum(0, -mu * T[keep])) / scale)
    _, se = control_variate.mean_deficit_curve(ds, 0.0, "lumped")
    np.testing.assert_allclose(pts["g_sem"], se[keep] / scale)
    assert np.all(pts["g_sem"] <= pts["g_plain_sem"] * 1.05)
    inside = ((pts["g"] - pts["g_exact"]).abs() <= 2 * pts["g_sem"]).mean()
    inside_plain = ((pts["g_plain"] - pts["g_exact"]).abs() <= 2 * pts["g_plain_sem"]).mean()
    assert tables.agreement_by_mode(pts, "exact")["lumped"] == pytest.approx(inside)
    assert tables.agreement_by_mode(pts, "exact", plain=True)["lumped"] == pytest.approx(
        inside_plain
    )
    shown = tables.exact_consistency(pts)
    plain_check = tables.exact_consistency(pts, plain=True)
    last = pts.iloc[-1]
    assert shown["z_at_last_point"]["s"] == pytest.approx((last.g - last.g_exact) / last.g_sem)
    assert plain_check["z_at_last_point"]["s"] == pytest.approx(
        (last.g_plain - last.g_exact) / last.g_plain_sem
    )
    # the last thinned point, whose horizon is recorded: not T_max here
    assert shown["t_at_last_point"]["s"] == last["T"] == pts["T"].max()
    assert plain_check["t_at_last_point"] == shown["t_at_last_point"]
    assert last["T"] < T[-1]
