"""The real-world stages without Snakemake, on small inputs (docs/model.md §13): carbon from
regimes parts, the calibration and sensitivity tables, a short day-night study, their
figures and the report's "Real-world inputs" section; and the config keys that select them.
"""

from __future__ import annotations

import json
import re

import matplotlib.image
import pandas as pd
import pytest
from report_structure import check_opening
from snakerun import ROOT
from stagerun import characterize_into

from energy_routing import config
from energy_routing.model import catalogue
from energy_routing.report import build
from energy_routing.stages import calibration as stages_calibration
from energy_routing.stages import carbon as stages_carbon
from energy_routing.stages import day_night as stages_day_night
from energy_routing.stages import figures as plot
from energy_routing.stages import registry
from energy_routing.stages import site_storage as stages_site_storage
from energy_routing.stages import summary as publish
from energy_routing.supply import carbon

RW_FIGURES = [f for f in registry.FIGURES if f.activate == "realworld"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("realworld")
    cfg = config.load(ROOT / ".test" / "config.yaml")
    cfg["realworld"].update(trials=3, horizon_days=0.5)
    cfg["realworld"]["storage"].update(trials=3, horizon_days=1.0, provisioning=[1.0])
    paths = characterize_into(cfg, d)
    regimes = d / "regimes_fig4.json"
    regimes.write_text(
        json.dumps(
            {
                "scenario": "fig4",
                "t_max": 20000.0,
                "trials": 8,
                "rows": [
                    {
                        "routing_error": 0.0,
                        "consumption": "lumped",
                        "mean_D_Tmax_J": 3.6e6,
                        "sem_D_Tmax_J": 3.6e5,
                    },
                    {
                        "routing_error": 0.2,
                        "consumption": "lumped",
                        "mean_D_Tmax_J": 7.2e6,
                        "sem_D_Tmax_J": 0.0,
                    },
                ],
            }
        )
    )
    stages_carbon.carbon(
        json.loads(registry.stage_config(cfg, "carbon")),
        regimes_parts={"fig4": regimes},
        part_json=d / "carbon.json",
    )
    stages_calibration.calibration(
        json.loads(registry.stage_config(cfg, "calibration")),
        table_csv=d / "calibration.csv",
        sensitivity_csv=d / "sensitivity.csv",
        serving_law_csv=d / "serving_law.csv",
        part_json=d / "calibration.json",
    )
    stages_day_night.day_night(
        json.loads(registry.stage_config(cfg, "day_night")),
        grid_nc=paths["grid"],
        table_csv=d / "day_night.csv",
        part_json=d / "day_night.json",
    )
    stages_site_storage.site_storage(
        json.loads(registry.stage_config(cfg, "site_storage")),
        grid_nc=paths["grid"],
        dataset=d / "site_storage.nc",
        part_json=d / "site_storage.json",
    )
    return {"dir": d, "cfg": cfg, **paths}


def test_carbon_part_has_intensity_source_and_year(run):
    part = json.loads((run["dir"] / "carbon.json").read_text())
    c = carbon.intensity("USA-NC")
    assert part["region"] == "USA-NC" and part["year"] == c.year and "eGRID" in part["source"]
    kg = [r["kg_co2e"] for r in part["rows"]]
    # 3.6e6 J is one kWh: its emissions are the intensity in kg.
    assert kg == pytest.approx([c.g_per_kWh / 1000, 2 * c.g_per_kWh / 1000], rel=1e-12)
    sem = [r["kg_co2e_sem"] for r in part["rows"]]
    assert sem == pytest.approx([c.g_per_kWh / 10000, 0.0], rel=1e-12)


def test_calibration_keeps_modelled_and_external_apart(run):
    table = pd.read_csv(run["dir"] / "calibration.csv")
    assert len(table) == len(catalogue.MODELS) * len(catalogue.ACCELERATORS)
    assert (table["modelled_here_J_per_token"] > 0).all()
    assert (table["external_estimate_J_per_token"] > 0).all()
    ratio = table["modelled_here_J_per_token"] / table["external_estimate_J_per_token"]
    assert ratio.to_numpy() == pytest.approx(table["ratio_modelled_to_external"].to_numpy())
    sens = pd.read_csv(run["dir"] / "sensitivity.csv")
    assert set(sens["moved"]) == {"e_mem", "e_flop", "both"}
    nominal = sens[sens["factor"] == 1.0]
    assert nominal["mu_J_per_slot"].abs().max() < 1e-9  # nominal supply is critical
    part = json.loads((run["dir"] / "calibration.json").read_text())
    assert part["sensitivity_horizon_slots"] == run["cfg"]["montecarlo"]["t_max"]


def test_calibration_carries_the_serving_law_against_its_measurements(run):
    """The part's serving law: every measured row with its in-sample and held-out value,
    the summary errors recomputed from them, and the report's subsection."""
    law = json.loads((run["dir"] / "calibration.json").read_text())["serving_law"]
    rows = pd.DataFrame(law["rows"])
    assert len(rows) == 21 and law["accelerator"] == "H100-SXM5-80GB"
    held = (rows.held_out_J / rows.energy_per_token_J).map(
        lambda r: abs(r - 1) if r > 1 else 1 / r - 1
    )
    assert law["held_out_worst_factor"] == pytest.approx(1 + held.max())
    assert law["held_out_worst_factor"] < 1.6 and law["held_out_median_abs_error"] < 0.25
    table = pd.read_csv(run["dir"] / "serving_law.csv")
    assert table.energy_per_token_J.tolist() == rows.energy_per_token_J.tolist()
    from energy_routing.report import realworld as report_realworld

    text = "\n".join(report_realworld.serving_law_lines(law))
    assert "### Serving under continuous batching" in text and "leave one model out" in text
    assert f"{law['held_out_worst_factor']:.3g}" in text


def test_day_night_rows_and_storage(run):
    table = pd.read_csv(run["dir"] / "day_night.csv")
    assert sorted(set(table["horizon_slots"])) == [21600, 43200]
    assert len(table) == 9 * 2
    part = json.loads((run["dir"] / "day_night.json").read_text())
    assert part["site"]["weather_file"] == "723170TYA.CSV" and part["trials"] == 3
    assert part["cycle_cost"]["mean_J"] > 0 and part["cycle_cost"]["sem_J"] > 0
    # The storage of the mean day at the critical load: several kWh for the default grid.
    assert 1e6 < part["storage"]["day-night"]["daily_mean_J"] < 1e8


def test_day_night_differences_are_paired(run):
    """The extra over the i.i.d. harvest is the mean of per-trial differences: its standard
    error is that of the differences, not the combination of the two means'."""
    table = pd.read_csv(run["dir"] / "day_night.csv").set_index(["harvest", "load"])
    end = table["horizon_slots"].max()
    at = table[table["horizon_slots"] == end]
    ref = at.loc[("iid", "flat")]
    assert ref["extra_J"] == 0 and ref["extra_sem_J"] == 0
    row = at.loc[("tmy", "aligned")]
    assert row["extra_J"] == pytest.approx(row["mean_J"] - ref["mean_J"], rel=1e-9)


def test_site_storage_part(run):
    part = json.loads((run["dir"] / "site_storage.json").read_text())
    assert part["horizon_slots"] == 86400 and part["trials"] == 3
    rows = {r["capacity_hours"]: r for r in part["rows"]}
    assert set(rows) == {0.5, 14.0, None}
    hour_J = part["load_kW"] * 3.6e6
    assert rows[14.0]["capacity_J"] == pytest.approx(14.0 * hour_J)
    # The unbounded store needs the least auxiliary energy; more capacity never costs more.
    site = [rows[c]["tmy_kWh_per_day"] for c in (0.5, 14.0, None)]
    assert site[0] >= site[1] >= site[2] > 0
    for r in part["rows"]:
        assert r["excess_kWh_per_day"] == pytest.approx(
            r["tmy_kWh_per_day"] - r["iid_kWh_per_day"], rel=1e-9, abs=1e-12
        )
    assert 1e6 < part["trace_storage_J"]["daily_mean_J"] < 1e8


def test_study_horizons():
    from energy_routing.studies.site import study_horizons

    assert list(study_horizons(1.0, 1.0)) == [21600, 43200, 64800, 86400]
    assert list(study_horizons(0.1, 1.0)) == [8640]
    assert list(study_horizons(1.0, 3600.0)) == [6, 12, 18, 24]


@pytest.fixture(scope="module")
def drawn(run) -> list[str]:
    d = run["dir"]
    inputs = {
        "calibration_csv": d / "calibration.csv",
        "sensitivity_csv": d / "sensitivity.csv",
        "serving_law_csv": d / "serving_law.csv",
        "calibration_json": d / "calibration.json",
        "day_night_csv": d / "day_night.csv",
        "day_night_json": d / "day_night.json",
        "site_storage_json": d / "site_storage.json",
        "carbon_json": d / "carbon.json",
    }
    cfg = json.loads(registry.stage_config(run["cfg"], "figures"))
    for fig in RW_FIGURES:
        kw = {k: inputs[k] for k in fig.inputs}
        plot.draw(fig.plot, cfg, stem=d / "figures" / fig.stem, **kw)
    return sorted(str(p) for p in (d / "figures").glob("*.png"))


@pytest.mark.parametrize("fig", RW_FIGURES, ids=lambda f: f.stem)
def test_every_realworld_figure_draws(fig, run, drawn):
    image = matplotlib.image.imread(run["dir"] / "figures" / f"{fig.stem}.png")
    assert image.shape[0] > 150 and image.shape[1] > 300 and image.std() > 0.01


def test_report_section(run, drawn):
    d = run["dir"]
    parts = {"grid": run["part"]}
    studies = ("carbon", "calibration", "day_night", "site_storage")
    parts.update({k: d / f"{k}.json" for k in studies})
    publish.summary(parts, d / "summary.json")
    s = json.loads((d / "summary.json").read_text())
    assert set(studies) <= set(s)
    text = build.build_markdown(s, pd.read_csv(run["models"]), pd.read_csv(run["tasks"]), [], d)
    assert "## Real-world inputs" in text
    for words in (
        "modelled here, batch 1 [J/token]",
        "### Serving under continuous batching",
        "Energy per token as served",
        "external estimate (EcoLogits) [J/token]",
        "g CO2e/kWh",
        "eGRID",
        "± ",
        "emissions [kg CO2e]",
    ):
        assert words in text, words
    raw = [
        h
        for h in text.splitlines()
        if h.startswith("| ") and re.search(r"\| [a-z]+_[A-Za-z_]+ \|", h)
    ]
    assert not raw, raw
    check_opening(text, build.to_html(text, d), {"Storage for the day-night swing", "Carbon"})
    assert (
        build.build_markdown(
            json.loads(run["part"].read_text()),
            pd.read_csv(run["models"]),
            pd.read_csv(run["tasks"]),
            [],
            d,
        ).count("Real-world")
        == 0
    )


# --- config keys ---------------------------------------------------------------------

TASK = {"name": "a", "difficulty": 1.9, "deadline_s": 600}
CATALOGUE_MODELS = [
    {"name": "small", "catalogue": "Llama-3.2-1B"},
    {"name": "big", "catalogue": "Llama-3.1-8B"},
]


def test_catalogue_config_expands_to_numbers():
    cfg = config.validate(
        {"tasks": [TASK], "hardware": {"accelerator": "H100-SXM5-80GB"}, "models": CATALOGUE_MODELS}
    )
    assert set(cfg["hardware"]) == {"e_mem", "e_flop", "bandwidth", "throughput"}
    assert cfg["models"][0]["params"] == 1.24e9 and cfg["models"][1]["n_layers"] == 32
    assert config.validate(cfg) == cfg  # idempotent: stages may validate again
    default = config.validate({"tasks": [TASK]})
    assert set(default["hardware"]) == {"e_mem", "e_flop", "bandwidth", "throughput"}


def test_real_hardware_with_abstract_deadlines_names_the_task():
    from energy_routing.model import grids

    tasks = [{"name": "t4", "difficulty": 1.788889, "deadline_s": 17}]
    cfg = config.validate(
        {"tasks": tasks, "hardware": {"accelerator": "H100-SXM5-80GB"}, "models": CATALOGUE_MODELS}
    )
    with pytest.raises(config.ConfigError, match=r"'tasks\[0\].deadline_s': task 't4'"):
        grids.task_grid(cfg)


BAD = [
    ({"models": [{"name": "x"}]}, "'models[0]' needs 'params' or 'catalogue'"),
    ({"models": [{"name": "x", "params": 1e9, "catalogue": "Llama-3.2-1B"}]}, "models[0].params"),
    ({"hardware": {"accelerator": "H100-SXM5-80GB", "e_mem": 2e-11}}, "'hardware.e_mem'"),
    ({"hardware": {"power_fraction": 0.5}}, "'hardware.power_fraction'"),
    ({"hardware": {"accelerator": "TPU"}}, "'hardware.accelerator' must be one of"),
    ({"carbon": {"region": "XYZ"}}, "'carbon.region'"),
    ({"carbon": {"source": "owid"}}, "'carbon.source' must be one of"),
    ({"supply": {"model": "wind"}}, "'supply.model' must be one of"),
    ({"supply": {"phi": 0.5}}, "'supply.phi' (0.5) applies to supply.model ar1 only"),
    ({"supply": {"model": "ar1", "phi": 1.0}}, "'supply.phi' must be < 1"),
    ({"supply": {"solar": {"weather_file": "x.csv"}}}, "'supply.solar.weather_file'"),
    ({"load": {"amplitude": 1.3}}, "'load.amplitude' must be <= 1"),
    (
        {"realworld": {"storage": {"capacity_hours": [0]}}},
        "'realworld.storage.capacity_hours",
    ),
    (
        {"realworld": {"storage": {"horizon_days": 0.5}}},
        "'realworld.storage.horizon_days'",
    ),
    ({"realworld": {"trials": 1}}, "'realworld.trials' must be >= 2"),
    ({"realworld": {"horizon_days": 0}}, "'realworld.horizon_days' must be > 0"),
    ({"realworld": {"colour": 1}}, "'realworld.colour' is not a known key"),
]


@pytest.mark.parametrize(("change", "words"), BAD, ids=[w for _, w in BAD])
def test_bad_realworld_key_is_named(change, words):
    with pytest.raises(config.ConfigError) as err:
        config.validate({"tasks": [TASK], **change})
    assert words in str(err.value)


def test_inactive_studies_skip_the_region_check():
    cfg = config.validate(
        {"tasks": [TASK], "realworld": {"activate": False}, "carbon": {"region": "XYZ"}}
    )
    assert cfg["realworld"]["activate"] is False


# --- the workflow ----------------------------------------------------------------------


@pytest.mark.slow
def test_tiny_run_has_the_realworld_outputs(tiny_run):
    """`make run` on the tiny config: carbon with source and year in summary.json, the
    tables, the figures and the report section."""
    res = tiny_run / "results"
    s = json.loads((res / "summary.json").read_text())
    assert s["carbon"]["source"] and s["carbon"]["year"] == carbon.intensity("USA-NC").year
    assert s["carbon"]["rows"] and all(r["kg_co2e"] > 0 for r in s["carbon"]["rows"])
    assert s["day_night"]["trials"] == 4 and s["day_night"]["cycle_cost"]["sem_J"] > 0
    assert set(s["calibration"]["by_accelerator"]) == set(catalogue.ACCELERATORS)
    assert s["site_storage"]["trials"] == 3 and s["site_storage"]["rows"]
    tables = ("tables/calibration.csv", "tables/sensitivity.csv", "realworld/day_night.csv")
    for path in (*tables, "realworld/site_storage.nc"):
        assert (res / path).is_file(), path
    for fig in RW_FIGURES:
        assert (res / "figures" / f"{fig.stem}.png").is_file(), fig.stem
    text = (res / "report.md").read_text()
    assert "## Real-world inputs" in text and "### How much storage the swing needs" in text
    assert "Supply: i.i.d. Gamma harvest; flat load." in text


@pytest.mark.slow
def test_single_run_skips_the_studies(single_run):
    res = single_run / "results"
    s = json.loads((res / "summary.json").read_text())
    assert not {"carbon", "calibration", "day_night", "site_storage"} & set(s)
    assert not (res / "tables" / "calibration.csv").exists()
    assert not list((res / "figures").glob("fig_day_night*"))


def test_real_site_config_merged_into_the_default_validates():
    """`--configfile config/real_site.yaml` merges into config/config.yaml (Snakemake): the
    hardware constants the default file brings along give way to the accelerator of the
    later file."""
    import yaml

    from energy_routing.model import grids

    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    real = yaml.safe_load((ROOT / "config" / "real_site.yaml").read_text())
    layers = config.read_layers(
        [ROOT / "config" / "config.yaml", ROOT / "config" / "real_site.yaml"]
    )
    merged = config.merge(layers)
    assert merged["hardware"] == {**base["hardware"], **real["hardware"]}
    cfg = config.validate(merged, layers=layers)
    assert cfg["hardware"]["e_mem"] != base["hardware"]["e_mem"]  # from the data sheet
    assert cfg == config.validate(real)
    grid = grids.task_grid(cfg)
    wl = grids.workload(grid, cfg, 1.0)
    assert wl.supply.harvest == "solar" and wl.supply.load_amplitude == 0.5
