"""Correlated and solar harvest, diurnal load (docs/model.md §13)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from energy_routing.supply import harvests
from energy_routing.supply import load as supply_load
from energy_routing.supply import solar as supply_solar
from energy_routing.supply import supply as supply_supply

MEAN, VAR = 593.38, 3.9616e5  # the default scenario's R_bar [J/slot] and sigma_R^2 [J^2/slot]


def rng(*key):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(2601, spawn_key=key)))


def run(model, gen, sizes):
    state = model.init_state(gen)
    parts = []
    for n in sizes:
        x, state = model.draw(gen, n, state)
        parts.append(np.array(x))
    return np.concatenate(parts)


# --- i.i.d. Gamma: today's draws ---------------------------------------------------------


def test_iid_draws_what_the_engine_draws(default_cfg, default_grid):
    """Same stream, same numbers as the engine's draws.draw_chunk (and as the documented draw)."""
    model = harvests.IIDGammaHarvest(MEAN, VAR)
    shape, scale = model.shape_scale
    x = run(model, rng(1, 3), [1000, 24])
    direct = rng(1, 3).standard_gamma(shape, size=1024) * scale
    np.testing.assert_array_equal(x, direct)

    from energy_routing.engine import draws as engine_draws
    from energy_routing.engine import streams as engine_streams
    from energy_routing.model import grids

    workload = grids.workload(default_grid, default_cfg)
    plan = engine_draws.EnginePlan.build(workload, 0.0)
    streams = engine_streams.trial_streams(2601, 7, 3)
    buf = np.empty(512)
    engine = [engine_draws.draw_chunk(streams, plan, 512, buf).harvest.copy() for _ in range(2)]
    mine = harvests.IIDGammaHarvest(workload.harvest_mean_J, workload.harvest_var_J2)
    ours = run(
        mine, engine_streams.trial_streams(2601, 7, 3)[engine_streams.STREAM_HARVEST], [512, 512]
    )
    np.testing.assert_array_equal(np.concatenate(engine), ours)


def test_zero_variance_is_constant():
    for model in (harvests.IIDGammaHarvest(MEAN, 0.0), harvests.GammaAR1Harvest(MEAN, 0.0, 0.5)):
        np.testing.assert_array_equal(run(model, rng(2), [10, 5]), np.full(15, MEAN))


# --- AR(1) with Gamma marginal -----------------------------------------------------------


def test_ar1_phi_zero_is_iid_draw_for_draw_and_in_distribution():
    x0 = run(harvests.GammaAR1Harvest(MEAN, VAR, 0.0), rng(3), [4000, 6000])
    xi = run(harvests.IIDGammaHarvest(MEAN, VAR), rng(3), [10000])
    np.testing.assert_array_equal(x0, xi)
    shape, scale = harvests.IIDGammaHarvest(MEAN, VAR).shape_scale
    assert stats.kstest(x0, stats.gamma(shape, scale=scale).cdf).pvalue > 1e-3


def chains(phi, n_chains, length):
    model = harvests.GammaAR1Harvest(MEAN, VAR, phi, block=256)
    return np.stack([run(model, rng(4, c), [length]) for c in range(n_chains)])


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_ar1_moments_and_marginal(phi):
    """Mean, variance, lag-1 correlation within 5 standard errors (independent chains);
    the stationary marginal is the Gamma law (KS on one value per chain)."""
    x = chains(phi, 300, 600)
    dev = x - MEAN
    per_chain = {
        "mean": (x.mean(axis=1), MEAN),
        "var": ((dev**2).mean(axis=1), VAR),
        "lag1": ((dev[:, 1:] * dev[:, :-1]).mean(axis=1) / VAR, phi),
    }
    for name, (est, truth) in per_chain.items():
        se = est.std(ddof=1) / math.sqrt(est.size)
        assert abs(est.mean() - truth) < 5 * se, (name, est.mean(), truth, se)
    shape, scale = harvests.IIDGammaHarvest(MEAN, VAR).shape_scale
    assert stats.kstest(x[:, 333], stats.gamma(shape, scale=scale).cdf).pvalue > 1e-3
    assert x.min() >= 0


def test_ar1_long_run_variance():
    phi, length = 0.8, 400
    sums = chains(phi, 400, length).sum(axis=1)
    exact = VAR * ((1 + phi) / (1 - phi) - 2 * phi * (1 - phi**length) / (length * (1 - phi) ** 2))
    est = sums.var(ddof=1) / length
    assert abs(est / exact - 1) < 5 * math.sqrt(2 / sums.size)
    assert harvests.GammaAR1Harvest(MEAN, VAR, phi).long_run_var_J2 == pytest.approx(VAR * 9)


def test_ar1_rejects_bad_phi():
    for phi in (-0.1, 1.0):
        with pytest.raises(ValueError, match="phi"):
            harvests.GammaAR1Harvest(MEAN, VAR, phi)


# --- chunk invariance --------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: harvests.IIDGammaHarvest(MEAN, VAR),
        lambda: harvests.GammaAR1Harvest(MEAN, VAR, 0.7, block=100),
        lambda: harvests.SolarHarvest(
            supply_solar.pv_hourly()["ac_W"], MEAN, 7.0, resample_days=True
        ),
    ],
    ids=["iid", "ar1", "solar"],
)
def test_same_stream_same_sequence_whatever_the_chunks(make):
    whole = run(make(), rng(5), [30000])
    pieces = run(make(), rng(5), [1, 99, 4000, 12345, 13555])
    np.testing.assert_allclose(pieces, whole, rtol=1e-9, atol=1e-9)


# --- solar -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pv():
    return supply_solar.pv_hourly()


def test_pv_profile_is_physical(pv):
    ac = pv["ac_W"]
    assert ac.shape == (8760,) and ac.min() == 0.0
    assert 1100 < ac.sum() / 1000 < 1700  # kWh per kWp and year at Greensboro (PVWatts ~1400)
    days = ac.reshape(365, 24)
    assert np.all(days[:, :4] == 0) and np.all(days[:, 21:] == 0)  # night, local time
    assert 11 < supply_solar.solar_peak_hour(ac) < 14
    assert pv["site"]["latitude"] == pytest.approx(36.1)
    # the weather is not only clear sky: daily yields vary much more than the clear-sky ones
    ratio = days.sum(axis=1) / pv["clear_ac_W"].reshape(365, 24).sum(axis=1)
    assert ratio.std() > 0.15 and ratio.max() < 1.4


def test_solar_trace_mean_equals_target_and_is_zero_at_night(pv):
    model = harvests.SolarHarvest(pv["ac_W"], MEAN, dt_s=3600.0, random_start=False)
    year = run(model, rng(6), [8760])
    assert year.mean() == pytest.approx(MEAN * 1, rel=1e-12)  # dt = 3600 s: J per slot
    np.testing.assert_allclose(year, pv["ac_W"] * MEAN / pv["ac_W"].mean(), rtol=1e-9)
    assert np.all(year.reshape(365, 24)[:, :4] == 0)
    fine = harvests.SolarHarvest(pv["ac_W"], MEAN, dt_s=1.0, random_start=False)
    day = run(fine, rng(6), [86400])
    assert np.all(day[: 4 * 3600] == 0) and day.max() > MEAN  # 1 January is cloudy
    np.testing.assert_allclose(day[12 * 3600 : 13 * 3600], fine.hourly_W[12], rtol=1e-9)


def test_solar_resampled_days_keep_the_mean(pv):
    model = harvests.SolarHarvest(pv["ac_W"], MEAN, dt_s=3600.0, resample_days=True)
    x = run(model, rng(7), [8760 * 10])
    assert x.mean() == pytest.approx(MEAN, rel=0.03)
    assert not np.allclose(x[:8760], run(model, rng(8), [8760]))


def test_constant_profile_equals_iid_with_zero_variance():
    for dt in (1.0, 7.0, 3600.0):
        flat = harvests.SolarHarvest(np.full(8760, 3.0), MEAN, dt_s=dt)
        iid = harvests.IIDGammaHarvest(MEAN, 0.0)
        np.testing.assert_allclose(
            run(flat, rng(9), [500, 500]), run(iid, rng(9), [1000]), rtol=1e-9
        )


def test_storage_of_a_square_wave():
    # 12 h at 2 W, 12 h at 0 W against a 1 W load: 12 h x 1 W must be stored each day.
    day = np.r_[np.zeros(6), np.full(12, 2.0), np.zeros(6)]
    s = supply_solar.daily_storage(np.tile(day, 365))
    assert s["daily_mean_J"] == pytest.approx(12 * 3600)  # the night 18:00-06:00
    assert s["daily_max_J"] == s["annual_J"] == pytest.approx(12 * 3600)
    assert supply_solar.daily_storage(np.tile(day, 365), window_start_h=0)["daily_mean_J"] == (
        pytest.approx(6 * 3600)  # a window from midnight sees only half of each night
    )


# --- diurnal load ------------------------------------------------------------------------


@pytest.mark.parametrize("dt", [1.0, 7.0, 240.0])
def test_diurnal_rate_keeps_the_daily_mean(dt):
    n = round(7 * 86400 / dt)  # a week (7 * 86400 / 7 is whole)
    rate = supply_load.diurnal_rate(np.arange(n), dt, 1.0, 0.8, 12.3)
    assert rate.sum() == pytest.approx(n * 1.0, rel=1e-9)
    assert rate.min() >= 0.2 - 1e-9
    hour = (np.argmax(rate[: int(86400 / dt)]) + 0.5) * dt / 3600
    assert abs(hour - 12.3) < max(dt / 3600, 1e-3) + 1e-9
    np.testing.assert_array_equal(supply_load.diurnal_rate(np.arange(10), dt, 2.0, 0.0, 5), 2.0)


def test_nhpp_arrivals_follow_the_rate():
    rate = supply_load.diurnal_rate(np.arange(2400), 36.0, 0.5, 0.9, 12.0)  # one day, 36 s slots
    mix = np.array([0.25, 0.75])
    total = np.zeros(2400)
    per_type = np.zeros(2)
    n_rep = 400
    for k in range(n_rep):
        counts, slots = supply_load.draw_arrivals_nhpp(rng(10, k, 0), rng(10, k, 1), rate, mix)
        total += np.bincount(slots, minlength=2400)
        per_type += counts
    hourly = total.reshape(24, 100).sum(axis=1) / n_rep
    expect = rate.reshape(24, 100).sum(axis=1)
    assert np.all(np.abs(hourly - expect) < 5 * np.sqrt(expect / n_rep))
    np.testing.assert_allclose(per_type / per_type.sum(), mix, atol=0.01)


def test_figures(pv):
    import matplotlib.pyplot as plt

    from energy_routing.figures import realworld as fr

    fig = fr.fig_solar_profile(pv, MEAN)
    assert "[kW]" in fig.axes[0].get_ylabel() and "[kWh]" in fig.axes[1].get_ylabel()
    plt.close(fig)
    rows = [
        {"harvest": h, "load": "flat", "horizon_slots": t, "mean_J": m * t**0.5, "sem_J": 1e3}
        for h, m in (("iid", 1e3), ("day-night", 5e3))
        for t in (86400, 7 * 86400)
    ]
    fig = fr.fig_day_night(rows, {"tmy": supply_solar.daily_storage(pv["ac_W"])})
    assert "[kWh]" in fig.axes[0].get_ylabel() and "[days]" in fig.axes[0].get_xlabel()
    plt.close(fig)


def test_supply_from_a_config():
    assert supply_supply.Supply.from_config({}).is_default
    ar1 = supply_supply.Supply.from_config({"supply": {"model": "ar1", "phi": 0.5}})
    model = ar1.harvest_model(MEAN, VAR)
    assert isinstance(model, harvests.GammaAR1Harvest) and model.phi == 0.5
    cfg = {"supply": {"model": "solar", "solar": {"tilt_deg": 25.0}}}
    solar = supply_supply.Supply.from_config(cfg).harvest_model(MEAN, VAR)
    assert isinstance(solar, harvests.SolarHarvest) and solar.resample_days
    assert solar.hourly_W.mean() == pytest.approx(MEAN)
    aligned = supply_supply.Supply.from_config({"load": {"amplitude": 0.5}})
    opposite = supply_supply.Supply.from_config({"load": {"amplitude": 0.5, "phase": "misaligned"}})
    assert aligned.harvest == "iid" and 11.0 < aligned.load_peak_hour < 14.0
    assert opposite.load_peak_hour == pytest.approx((aligned.load_peak_hour + 12.0) % 24.0)
    with pytest.raises(ValueError, match="pvlib ships"):
        supply_solar.weather_file("nowhere.csv")


def test_nhpp_order_within_a_type_carries_no_slot_information():
    """The engine misroutes the first tasks of a type: their slots must follow the rate
    like every other task's (thinning keeps the candidates' random order)."""
    rate = supply_load.diurnal_rate(np.arange(2400), 36.0, 0.5, 0.9, 12.0)
    mix = np.array([0.5, 0.5])
    weighted = float((np.arange(2400) * rate).sum() / rate.sum())
    firsts = []
    for k in range(300):
        _, slots = supply_load.draw_arrivals_nhpp(rng(11, k, 0), rng(11, k, 1), rate, mix)
        firsts.append(slots[:5])  # the first five tasks of type 0
    firsts = np.concatenate(firsts)
    sem = firsts.std(ddof=1) / math.sqrt(firsts.size)
    assert abs(firsts.mean() - weighted) < 4 * sem
    # and the day's peak is where the rate says: most candidates kept around noon
    assert abs(weighted - 1200) < 50
