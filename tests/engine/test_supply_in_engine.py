"""Correlated and solar harvest and the daily load cycle inside the engine (docs/model.md §13).

The supply models of :mod:`energy_routing.supply.supply` are drawn by ``montecarlo.simulate``
through the workload's :class:`~energy_routing.supply.supply.Supply`; the default keeps the model
of §6 bit for bit (the golden test), and the checks below hold the rest to their laws.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from engine_workloads import small_workload

from energy_routing.engine import draws as engine_draws
from energy_routing.engine import driver
from energy_routing.engine import streams as engine_streams
from energy_routing.supply.load import diurnal_rate
from energy_routing.supply.supply import Supply
from energy_routing.theory import moments

DAY = 86400


def run(workload, checkpoints, trials=40, seed=11, **kw):
    return driver.simulate(
        workload,
        checkpoints=np.asarray(checkpoints),
        trials=trials,
        root_seed=seed,
        scenario_key=5,
        consumption=("lumped",),
        **kw,
    )


def with_supply(workload, **kw):
    return dataclasses.replace(workload, supply=Supply(**kw))


def test_default_supply_is_the_model_of_section_6():
    wl = small_workload(1.0)
    assert with_supply(wl).supply is None
    a, b = run(wl, [100, 5000]), run(with_supply(wl), [100, 5000])
    np.testing.assert_array_equal(a.deficit_J, b.deficit_J)


def test_zero_correlation_is_the_iid_engine_draw_for_draw():
    wl = small_workload(1.0)
    ar1 = with_supply(wl, harvest="ar1", phi=0.0)
    assert ar1.supply is not None  # a different code path: the AR(1) chunk generator
    a, b = run(wl, [100, 3000, 70000]), run(ar1, [100, 3000, 70000])
    np.testing.assert_array_equal(a.deficit_J, b.deficit_J)
    np.testing.assert_array_equal(a.battery_J, b.battery_J)


def test_constant_solar_trace_is_the_deterministic_harvest():
    """A flat PV trace at the same mean is the i.i.d. model with zero variance."""
    wl = dataclasses.replace(small_workload(1.0), harvest_var_J2=0.0)
    solar = with_supply(wl, harvest="solar", hourly_W=np.full(8760, 3.0), resample_days=False)
    cps = [10, 5000, 2 * DAY]
    a, b = run(wl, cps, trials=8), run(solar, cps, trials=8)
    np.testing.assert_allclose(b.deficit_J, a.deficit_J, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(b.battery_J, a.battery_J, rtol=1e-9, atol=1e-6)


def test_ar1_deficit_follows_the_long_run_diffusion():
    """At the critical point, E[D_T] ~ sigma_LR sqrt(2T/pi) with the long-run variance;
    the i.i.d. volatility would be far too small to explain it."""
    wl = with_supply(small_workload(1.0, variance_scale=4.0), harvest="ar1", phi=0.9)
    mu, sigma = moments.drift_volatility(wl, 0.0)
    _, sigma_iid = moments.drift_volatility(dataclasses.replace(wl, supply=None), 0.0)
    assert mu == pytest.approx(0.0, abs=1e-12) and sigma / sigma_iid > 3
    horizon = 20000
    res = run(wl, [horizon], trials=200)
    d = res.deficit_J[0, :, 0]
    sem = d.std(ddof=1) / math.sqrt(d.size)
    closed = sigma * math.sqrt(2 * horizon / math.pi)
    # the ladder offset of the discrete walk is below 1 sigma_LR: 5% of the closed form
    assert abs(d.mean() - closed) < 4 * sem + 0.05 * closed
    assert d.mean() > 2 * sigma_iid * math.sqrt(2 * horizon / math.pi)


def test_long_run_volatility_of_each_harvest():
    wl = small_workload(1.0)
    var, cons = wl.harvest_var_J2, wl.arrival_rate * moments.policy_moments(wl, 0.0)[1]
    _, s = moments.drift_volatility(with_supply(wl, harvest="ar1", phi=0.5), 0.0)
    assert s == pytest.approx(math.sqrt(3 * var + cons))
    replay = with_supply(wl, harvest="solar", hourly_W=np.arange(8760.0) % 24, resample_days=False)
    assert moments.drift_volatility(replay, 0.0)[1] == pytest.approx(math.sqrt(cons))
    days = np.repeat(np.random.default_rng(1).uniform(0.5, 1.5, 365), 24) * (np.arange(8760) % 24)
    resampled = with_supply(wl, harvest="solar", hourly_W=days)
    assert moments.drift_volatility(resampled, 0.0)[1] > math.sqrt(cons)


def test_solar_harvest_keeps_its_mean_and_follows_the_sun():
    wl = small_workload(1.0)
    hourly = np.tile(np.clip(np.sin((np.arange(24) - 6) / 12 * np.pi), 0, None), 365)
    solar = with_supply(wl, harvest="solar", hourly_W=hourly, resample_days=False)
    cps = np.arange(1, 9) * (3 * 3600)  # every 3 h over one day
    res = run(solar, cps, trials=20)
    # B_t = sum of harvest - consumption: the harvest part of each 3 h window is the
    # trace's, whatever the start day (the trace repeats daily)
    consumed = wl.arrival_rate * moments.policy_moments(wl, 0.0)[0]
    window = np.diff(np.concatenate([[0.0], res.battery_J[0].mean(axis=0)]))
    expect = np.add.reduceat(hourly[:24], np.arange(0, 24, 3)) / hourly[:24].mean()
    expect = expect * wl.harvest_mean_J * 3600 - consumed * 3 * 3600
    np.testing.assert_allclose(window, expect, rtol=0.02, atol=0.02 * abs(expect).max())


def test_diurnal_load_keeps_the_daily_mean_and_follows_its_profile():
    wl = small_workload(1.0)
    cyc = with_supply(wl, load_amplitude=0.8, load_peak_hour=15.0)
    trials = 30
    res = run(cyc, [DAY], trials=trials, chunk_slots=10000)
    per_trial = res.task_counts.sum(axis=(1, 2))
    mean_day = wl.arrival_rate * DAY
    assert abs(per_trial.mean() - mean_day) < 4 * math.sqrt(mean_day / trials)
    by_type = res.task_counts.sum(axis=(0, 2)) / per_trial.sum()
    np.testing.assert_allclose(by_type, wl.mix, atol=0.01)
    # the battery drains fastest around the peak: compare consumption by quarter day
    cps = np.arange(1, 5) * (DAY // 4)
    flat = run(wl, cps, trials=trials)
    peak = run(cyc, cps, trials=trials)
    drain = -np.diff(np.concatenate([[0.0], (peak.battery_J - flat.battery_J)[0].mean(0)]))
    rate = diurnal_rate(np.arange(DAY), 1.0, wl.arrival_rate, 0.8, 15.0)
    extra = (rate.reshape(4, -1).sum(1) - wl.arrival_rate * DAY / 4) * moments.policy_moments(
        wl, 0
    )[0]
    np.testing.assert_allclose(drain, extra, rtol=0.05, atol=0.02 * abs(extra).max())


def test_aligned_load_beats_misaligned_on_solar():
    wl = small_workload(1.0)
    hourly = np.tile(np.clip(np.sin((np.arange(24) - 6) / 12 * np.pi), 0, None), 365)
    kw = {"harvest": "solar", "hourly_W": hourly, "resample_days": False, "load_amplitude": 0.9}
    aligned = run(with_supply(wl, load_peak_hour=12.0, **kw), [DAY], trials=10)
    opposite = run(with_supply(wl, load_peak_hour=0.0, **kw), [DAY], trials=10)
    assert aligned.deficit_J.mean() < 0.5 * opposite.deficit_J.mean()


def test_supply_runs_are_reproducible_and_thread_independent():
    wl = small_workload(1.0)
    hourly = np.random.default_rng(3).uniform(0, 1, 8760)
    sol = with_supply(wl, harvest="solar", hourly_W=hourly, load_amplitude=0.3)
    a = run(sol, [500, 30000], trials=6)
    b = run(sol, [500, 30000], trials=6, n_threads=2)
    c = run(sol, [500, 30000], trials=range(3, 6))
    np.testing.assert_array_equal(a.deficit_J, b.deficit_J)
    np.testing.assert_array_equal(a.deficit_J[:, 3:], c.deficit_J)
    ar = with_supply(wl, harvest="ar1", phi=0.7)
    np.testing.assert_array_equal(run(ar, [900], trials=4).deficit_J, run(ar, [900], 4).deficit_J)


def test_per_slot_kernel_sees_the_same_supply():
    """The per-slot kernel draws through the same chunk source as the fast path."""
    wl = with_supply(small_workload(1.0), harvest="ar1", phi=0.6, load_amplitude=0.5)
    cps = [50, 4000]
    np.testing.assert_array_equal(
        run(wl, cps, trials=5).deficit_J, run(wl, cps, trials=5, kernel="per_slot").deficit_J
    )


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"harvest": "wind"}, "allowed: iid, ar1, solar"),
        ({"harvest": "ar1", "phi": 1.0}, "phi"),
        ({"harvest": "iid", "phi": 0.3}, "ar1 harvest only"),
        ({"harvest": "solar"}, "hourly trace"),
        ({"load_amplitude": 1.5}, "load_amplitude"),
        ({"load_peak_hour": 24.0}, "load_peak_hour"),
    ],
)
def test_bad_supply_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        Supply(**kw)


def test_workload_refuses_a_foreign_supply():
    with pytest.raises(ValueError, match="supply: expected a Supply"):
        dataclasses.replace(small_workload(1.0), supply={"model": "ar1"})


def test_exact_theory_is_withheld_from_non_iid_supplies():
    from energy_routing.analysis.tables import exact_applies

    wl = small_workload(1.0)
    assert exact_applies(wl) and exact_applies(with_supply(wl))
    assert not exact_applies(with_supply(wl, harvest="ar1", phi=0.3))
    assert not exact_applies(with_supply(wl, load_amplitude=0.2))


def test_draw_chunk_needs_the_trial_state_with_a_supply():
    wl = with_supply(small_workload(1.0), load_amplitude=0.5)
    plan = engine_draws.EnginePlan.build(wl, 0.0)
    streams = engine_streams.trial_streams(1, 2, 3)
    with pytest.raises(ValueError, match="trial's state"):
        engine_draws.draw_chunk(streams, plan, 100, np.empty(100))
    state = plan.start_trial(streams)
    engine_draws.draw_chunk(streams, plan, 100, np.empty(100), state)
    assert state.slot == 100
