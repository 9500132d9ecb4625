"""The planner at a real site (docs/model.md §15): ``energy-routing site`` and
``site-plan``, the cost model and the choice of design."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import xarray as xr

from energy_routing import cli
from energy_routing.studies import site_plan as sp
from energy_routing.studies import site_year as sy

SITE = ["--weather", "723170TYA.CSV"]


def _run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_site_json_prints_the_metrics_with_intervals(capsys):
    rc, out, err = _run(
        capsys, "site", *SITE, "--pv-kwp", "10", "--battery-kwh", "20", "--battery-kw", "5",
        "--load-kw", "2", "--years", "40", "--json",
    )  # fmt: skip
    assert rc == 0, err
    res = json.loads(out)
    for key in ("renewable_fraction", "grid_kWh_per_year", "spilled_kWh_per_year"):
        lo, hi = res[f"{key}_interval95"]
        assert lo <= res[key] <= hi and lo < hi
        assert res[f"{key}_sem"] > 0
    assert res["pv_kWh_per_year_tmy"] == pytest.approx(13731.16, rel=1e-4)
    assert res["missed_deadlines"] is None and "not applicable" in res["missed_deadlines_note"]
    # The same numbers as the library call with the same seed.
    pv = sy.site_pv("723170TYA.CSV")["pv_W_per_kWp"]
    bat = sy.Battery(20.0, 5.0)
    direct = sy.simulate_design(pv, 10.0, sy.constant_load(2.0), bat, years=40, seed=res["seed"])
    ref = sy.summarise(direct, bat, res["g_co2e_per_kWh"])
    assert res["renewable_fraction"] == ref["renewable_fraction"]
    assert res["grid_kWh_per_year_interval95"] == ref["grid_kWh_per_year_interval95"]


def test_site_without_battery_is_the_closed_form(capsys):
    rc, out, _ = _run(
        capsys, "site", *SITE, "--pv-kwp", "7", "--load-kw", "1.5", "--years", "20", "--json"
    )
    assert rc == 0
    res = json.loads(out)
    pv_J = sy.site_pv("723170TYA.CSV")["pv_W_per_kWp"] * 7.0 * 3600.0
    load = 1500.0 * 3600.0
    closed = np.minimum(pv_J, load).sum() / (load * 8760)
    assert res["renewable_fraction_tmy"] == pytest.approx(closed, rel=1e-12)
    assert res["full_cycles_per_year"] == 0.0


def test_site_with_a_configs_workload(capsys):
    rc, out, err = _run(
        capsys, "site", "--configfile", "config/config.yaml", "--pv-kwp", "4",
        "--battery-kwh", "5", "--years", "20", "--json",
    )  # fmt: skip
    assert rc == 0, err
    res = json.loads(out)
    assert res["load"].startswith("configured workload")
    assert 0 < res["renewable_fraction"] < 1
    assert res["carbon_region"] == "USA-NC"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["site", "--pv-kwp", "5"], "give the load"),
        (["site", "--pv-kwp", "5", "--load-kw", "1", "--weather", "nowhere.csv"], "neither"),
        (["site", "--pv-kwp", "5", "--load-kw", "1", "--slot-s", "7"], "slot_s"),
        (["site", "--pv-kwp", "-5", "--load-kw", "1"], "pv_kwp"),
        (["site", "--pv-kwp", "5", "--load-kw", "1", "--battery-kwh", "2", "--eta-charge", "2"],
         "eta_charge"),
        (["site", "--pv-kwp", "5", "--load-kw", "1", "--region", "XXX"], "carbon region"),
        (["site", "--pv-kwp", "5", "--load-kw", "1", "--tilt-deg", "95"], "--tilt-deg"),
        (["site-plan", "--load-kw", "1", "--pv-kwp", "1", "--years", "20"], "no design"),
        (["site-plan", "--load-kw", "1", "--target-renewable", "1.5"], "target"),
    ],
)  # fmt: skip
def test_user_mistakes_get_one_line_and_no_traceback(capsys, argv, words):
    rc, _, err = _run(capsys, *argv)
    assert rc == 2
    assert words in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_site_plan_meets_its_target_when_resimulated(capsys):
    rc, out, err = _run(
        capsys, "site-plan", *SITE, "--load-kw", "2", "--target-renewable", "0.8",
        "--confidence", "0.9", "--years", "100", "--json",
    )  # fmt: skip
    assert rc == 0, err
    res = json.loads(out)
    d = res["design"]
    assert res["share_of_years_meeting_target"] >= 0.9 and res["margin"] >= 0
    assert res["cost_per_year"]["total"] == pytest.approx(
        sum(res["cost_per_year"][k] for k in ("capital", "grid", "carbon"))
    )
    # Re-simulated on 400 other weather years, the design still meets the target in at
    # least 90 % of them up to sampling (the Wilson interval's upper end), and the TMY
    # year meets it.
    pv = sy.site_pv("723170TYA.CSV")["pv_W_per_kWp"]
    bat = sy.Battery(d["battery_kwh"], d["battery_kw"])
    again = sy.simulate_design(pv, d["pv_kwp"], sy.constant_load(2.0), bat, years=400, seed=99)
    rf = sy.year_metrics(again["years"], bat, 0.0)["renewable_fraction"]
    from energy_routing.studies.sizing import wilson_interval

    assert wilson_interval(int((rf >= 0.8).sum()), rf.size)[1] >= 0.9
    assert sy.year_metrics(again["tmy"], bat, 0.0)["renewable_fraction"] >= 0.8


def _toy_grid(rf_by_design: np.ndarray) -> xr.Dataset:
    """A design grid with given renewable fractions per year (pv x kwh x kw x year)."""
    shape = rf_by_design.shape
    zeros = np.zeros(shape)
    return xr.Dataset(
        {
            "renewable_fraction": (("pv_kwp", "battery_kwh", "battery_kw", "year"), rf_by_design),
            "grid_kWh_per_year": (("pv_kwp", "battery_kwh", "battery_kw", "year"), zeros),
            "kg_co2e_per_year": (("pv_kwp", "battery_kwh", "battery_kw", "year"), zeros),
        },
        coords={
            "pv_kwp": np.arange(1.0, shape[0] + 1),
            "battery_kwh": np.arange(shape[1]) * 10.0,
            "battery_kw": [5.0],
            "year": np.arange(shape[3]),
        },
    )


def test_plan_picks_the_cheapest_qualifying_design_and_the_frontier():
    rng = np.random.default_rng(0)
    # rf grows with PV and battery; noise across years.
    base = np.add.outer(np.linspace(0.3, 0.9, 4), np.linspace(0.0, 0.1, 3))[:, :, None, None]
    rf = np.clip(base + 0.02 * rng.standard_normal((4, 3, 1, 50)), 0, 1)
    ds = _toy_grid(rf)
    cost = sp.CostModel(grid_price_per_kwh=0.0, carbon_price_per_kg=0.0)
    res = sp.plan(ds, cost, 0.75, 0.9)
    share = (rf >= 0.75).mean(axis=-1)
    total = res["cost_grid"]
    ok = share >= 0.9
    assert total[res["index"]] == total[ok].min()
    assert share[res["index"]] >= 0.9
    # The frontier is increasing in both cost and renewable quantile.
    f = res["frontier"]
    assert all(a["cost_per_year"] <= b["cost_per_year"] for a, b in itertools.pairwise(f))
    assert all(
        a["renewable_fraction_quantile"] < b["renewable_fraction_quantile"]
        for a, b in itertools.pairwise(f)
    )
    with pytest.raises(ValueError, match="no design"):
        sp.plan(ds, cost, 0.99, 0.9)


def test_capital_recovery_factor_repays_the_capital():
    for rate, years in ((0.05, 25), (0.08, 12), (0.0, 10)):
        c = sp.crf(rate, years)
        assert sum(c / (1 + rate) ** t for t in range(1, years + 1)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"cost\.discount_rate"):
        sp.CostModel(discount_rate=-0.1)


def test_site_array_options_reach_pvlib(capsys):
    rc, out, _ = _run(
        capsys, "site", *SITE, "--pv-kwp", "2", "--load-kw", "1", "--tilt-deg", "35",
        "--azimuth-deg", "200", "--system-losses", "0.1", "--years", "20", "--json",
    )  # fmt: skip
    assert rc == 0
    from energy_routing.supply.solar import pv_hourly

    ref = pv_hourly("723170TYA.CSV", tilt_deg=35, azimuth_deg=200, system_losses=0.1)
    assert json.loads(out)["pv_kWh_per_year_tmy"] == pytest.approx(
        2.0 * ref["ac_W"].sum() / 1000.0, rel=1e-12
    )


def test_cost_model_defaults_are_the_schemas():
    from energy_routing import config

    assert sp.CostModel() == sp.CostModel.from_config(config.section_defaults("site_year")["cost"])
