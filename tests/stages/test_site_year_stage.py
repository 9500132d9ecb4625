"""Stage ``site_year`` without Snakemake on the tiny config (docs/model.md §15): its
NetCDF, its summary part, its figure and its report subsection; and in the tiny run."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from snakerun import ROOT
from stagerun import characterize_into

from energy_routing import config
from energy_routing.report import build
from energy_routing.stages import figures as plot
from energy_routing.stages import registry
from energy_routing.stages import site_year as stage
from energy_routing.stages import summary as publish
from energy_routing.stages.common import load_dataset

FIGURE = registry.figure("fig_site_year")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("site_year")
    cfg = config.load(ROOT / ".test" / "config.yaml")
    paths = characterize_into(cfg, d)
    stage.site_year(
        json.loads(registry.stage_config(cfg, "site_year")),
        grid_nc=paths["grid"],
        dataset=d / "site_year.nc",
        part_json=d / "site_year.json",
    )
    return {"dir": d, "cfg": cfg, **paths}


def test_part_has_the_design_and_intervals_per_site(run):
    part = json.loads((run["dir"] / "site_year.json").read_text())
    sec = run["cfg"]["site_year"]
    assert [s["weather_file"] for s in part["sites"]] == sec["weather_files"]
    assert part["load"].startswith("configured workload") and part["load_kW"] > 0
    for site in part["sites"]:
        m = site["metrics"]
        assert m["renewable_fraction_interval95"][0] <= m["renewable_fraction"]
        assert m["renewable_fraction"] <= m["renewable_fraction_interval95"][1]
        assert site["share_of_years_meeting_target"] >= sec["confidence"]
        assert site["margin"] >= 0 and site["cost_per_year"]["total"] > 0
    assert part["missed_deadlines"] is None


def test_dataset_holds_every_design_and_year(run):
    ds = load_dataset(run["dir"] / "site_year.nc")
    sec = run["cfg"]["site_year"]
    assert ds.sizes["year"] == sec["years"] and ds.sizes["site"] == len(sec["weather_files"])
    assert ds.sizes["pv_kwp"] == len(sec["pv_kwp_per_kw"])
    rf = ds["renewable_fraction"].to_numpy()
    assert np.all((rf >= 0) & (rf <= 1))
    # More PV never lowers the renewable fraction of the TMY year, for any store.
    tmy = ds["renewable_fraction_tmy"].to_numpy()
    assert np.all(np.diff(tmy, axis=1) >= -1e-12)
    assert ds.attrs["config_json"]


def test_figure_draws_and_report_has_the_section(run):
    d = run["dir"]
    cfg = json.loads(registry.stage_config(run["cfg"], "figures"))
    plot.draw(FIGURE.plot, cfg, stem=d / FIGURE.stem, site_year_json=d / "site_year.json")
    image = matplotlib.image.imread(d / f"{FIGURE.stem}.png")
    assert image.shape[0] > 150 and image.shape[1] > 300 and image.std() > 0.01
    publish.summary({"grid": run["part"], "site_year": d / "site_year.json"}, d / "s.json")
    s = json.loads((d / "s.json").read_text())
    text = build.build_markdown(s, pd.read_csv(run["models"]), pd.read_csv(run["tasks"]), [], d)
    assert "### A year at each site" in text and "Greensboro" in text
    assert "Missed deadlines: not applicable" in text
    # the answers open the report with the planner's design, its interval and its link
    from report_structure import check_opening

    check_opening(text, build.to_html(text, d), {"What the site needs"})
    site = s["site_year"]["sites"][0]
    line = next(x for x in text.splitlines() if "**What the site needs.**" in x)
    assert f"{site['design']['pv_kwp']:.3g} kWp" in line and "[" in line


@pytest.mark.slow
def test_tiny_run_has_the_site_year_outputs(tiny_run):
    res = tiny_run / "results"
    s = json.loads((res / "summary.json").read_text())
    assert s["site_year"]["sites"][0]["design"]["pv_kwp"] > 0
    assert (res / "realworld" / "site_year.nc").is_file()
    assert (res / "figures" / "fig_site_year.png").is_file()
    assert "### A year at each site" in (res / "report.md").read_text()
