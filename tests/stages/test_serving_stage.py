"""The serving stage without Snakemake, on the tiny config: its datasets, its two summary
parts and how the summary merges them (docs/model.md §14.2-14.3)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from snakerun import ROOT
from stagerun import characterize_into

from energy_routing import config
from energy_routing.stages import registry
from energy_routing.stages import serving as stage
from energy_routing.stages import summary as stages_summary
from energy_routing.stages.common import load_dataset
from energy_routing.studies import serving as study

SERVING_KEYS = {
    "model",
    "arrival_rate_per_s",
    "replicas",
    "mean_batch",
    "energy_per_token_J",
    "energy_per_task_J",
    "paper_energy_per_task_J",
    "missed_deadline_fraction",
    *(f"{k}_sem" for k in ("mean_batch", "energy_per_token_J", "energy_per_task_J",
                           "paper_energy_per_task_J", "missed_deadline_fraction")),
}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("serving")
    cfg = config.load(ROOT / ".test" / "config.yaml")
    paths = characterize_into(cfg, d)
    out = {k: d / f"{k}{'.nc' if 'part' not in k else '.json'}"
           for k in ("serving", "regimes", "serving_part", "regimes_part")}  # fmt: skip
    stage.serving(
        json.loads(registry.stage_config(cfg, "serving")),
        grid_nc=paths["grid"],
        out_nc=out["serving"],
        regimes_nc=out["regimes"],
        part_json=out["serving_part"],
        regimes_part_json=out["regimes_part"],
    )
    return {"cfg": cfg, "dir": d, **paths, **out}


def test_serving_dataset_and_part(run):
    ds = load_dataset(run["serving"])
    assert ds.attrs["Conventions"] == "CF-1.11" and "config_json" in ds.attrs
    assert dict(ds.sizes) == {"model": 2, "arrival_rate_per_s": 1, "replicas": 2, "trial": 3}
    rows = json.loads(run["serving_part"].read_text())
    assert len(rows) == 4 and all(SERVING_KEYS <= set(r) for r in rows)
    for r in rows:
        # Batching never costs more per task than the batch of one (no idle power here).
        assert r["energy_per_task_J"] <= r["paper_energy_per_task_J"] * 1.01
        assert r["mean_batch"] >= 1


def test_regimes_part(run):
    part = json.loads(run["regimes_part"].read_text())
    keys = ("slope", "slope_low", "slope_high", "sigma_long_run_J", "mu_J_per_slot")
    fpr = ("transition_false_positive_rate", "transition_fpr_low", "transition_fpr_high")
    for key in keys + fpr:
        assert part[key] is not None, key
    assert part["slope_low"] <= part["slope"] <= part["slope_high"]
    assert part["transition_groups"] == 2
    assert part["exact_theory"] is None and "i.i.d." in part["exact_withheld"]
    # Batched consumption is positively correlated: its long-run variance exceeds the
    # per-slot one.
    assert part["sigma_long_run_J"] > part["sigma_slot_J"]
    rds = load_dataset(run["regimes"])
    assert np.all(np.isfinite(rds.deficit_J.sel(provisioning=1.0)))


def test_summary_merges_serving(run, tmp_path):
    parts = {"grid": run["part"], "serving": run["serving_part"],
             "serving_regimes": run["regimes_part"]}  # fmt: skip
    stages_summary.summary(parts, tmp_path / "summary.json")
    s = json.loads((tmp_path / "summary.json").read_text())
    assert isinstance(s["serving"], list) and isinstance(s["serving_regimes"], dict)


def test_section_defaults_and_errors():
    cfg = config.validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}]})
    assert cfg["serving"] == study.serving_section({})
    with pytest.raises(ValueError, match=r"serving\.replicsa"):
        study.serving_section({"serving": {"replicsa": [1]}})
    with pytest.raises(ValueError, match="transition_group"):
        study.serving_section({"serving": {"regimes": {"trials": 25}}})
    with pytest.raises(ValueError, match=r"critical 1\.0"):
        study.serving_section({"serving": {"regimes": {"provisioning": [0.9]}}})
    with pytest.raises(config.ConfigError, match="serving"):
        config.validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}],
                         "serving": {"max_batch": 0}})  # fmt: skip


def test_fitted_law_compares_with_its_paper_limit():
    """Under the fitted law the batch-of-one energy is the §1 law on the same accelerator:
    a task of n tokens costs the sum of serving.paper_energy_per_token over contexts
    0 .. n - 1."""
    from energy_routing.engine.batched import batch_of_one_energy
    from energy_routing.model import grids, serving
    from energy_routing.model.catalogue import ACCELERATORS

    cfg = config.load(ROOT / ".test" / "config.yaml")
    sec = {**study.serving_section(cfg), "law": "fitted", "gpus": 2}
    grid = grids.task_grid(cfg)
    splan = study.serving_plan(grid, cfg, sec, 1)
    assert splan.idle_w[0] == pytest.approx(2 * ACCELERATORS["H100-SXM5-80GB"].idle_power_w)
    m = cfg["models"][1]
    arch = serving.ServingArch.from_paper(m["params"], m["n_layers"], m["d_attn"])
    n = int(grid.tokens.values[0, 1])
    per_token = serving.paper_energy_per_token(
        arch, ACCELERATORS["H100-SXM5-80GB"], 2, np.arange(n, dtype=float)
    )
    got = batch_of_one_energy(splan, np.array([0]), np.array([1]))[0]
    assert got == pytest.approx(per_token.sum(), rel=1e-9)


# --- what reaches the user: figure, report, README (docs/model.md §14.2-14.3) ----------


def _summary(run, tmp_path) -> dict:
    parts = {"grid": run["part"], "serving": run["serving_part"],
             "serving_regimes": run["regimes_part"]}  # fmt: skip
    stages_summary.summary(parts, tmp_path / "summary.json")
    return json.loads((tmp_path / "summary.json").read_text())


def test_serving_figure_draws(run):
    import matplotlib.image

    from energy_routing.stages import figures as plot

    (fig,) = [f for f in registry.FIGURES if f.stem == "fig_serving"]
    assert fig.activate == "serving" and set(fig.inputs) == {"serving_nc"}
    assert fig.inputs["serving_nc"] == registry.STAGES["serving"].outputs["dataset"]
    cfg = json.loads(registry.stage_config(run["cfg"], "figures"))
    stem = run["dir"] / "figures" / fig.stem
    plot.draw(fig.plot, cfg, stem=stem, serving_nc=run["serving"])
    image = matplotlib.image.imread(stem.with_suffix(".png"))
    assert image.shape[0] > 300 and image.shape[1] > 300 and image.std() > 0.01
    # One column per model, three rows; every energy panel carries the batch-of-one line.
    from energy_routing.figures.serving import fig_serving

    drawn = fig_serving(load_dataset(run["serving"]))
    assert len(drawn.axes) == 3 * 2
    for ax in drawn.axes[:2]:  # the top row, energy per task
        assert any(line.get_linestyle() == "--" for line in ax.get_lines())


def test_report_section_from_the_serving_stage(run, tmp_path):
    import re

    import pandas as pd
    from report_structure import check_opening

    from energy_routing.report import build
    from energy_routing.report import serving as report_serving
    from energy_routing.stages import figures as plot

    s = _summary(run, tmp_path)
    fig = registry.figure("fig_serving")
    cfg = json.loads(registry.stage_config(run["cfg"], "figures"))
    plot.draw(fig.plot, cfg, stem=tmp_path / fig.stem, serving_nc=run["serving"])
    shown = [(fig.title, fig.stem, str(tmp_path / f"{fig.stem}.png"))]
    text = build.build_markdown(s, pd.read_csv(run["models"]), pd.read_csv(run["tasks"]), shown,
                                tmp_path)  # fmt: skip
    # The figure's reading is built from the same rows.
    assert report_serving.readings(s)["fig_serving"] in text
    # Without the real-world studies serving is a section of its own.
    assert "## Serving under continuous batching" in text
    assert f"### {report_serving.SERVING_TITLE}" in text
    assert f"### {report_serving.REGIMES_TITLE}" in text
    reg = s["serving_regimes"]
    for words in (
        f"{s['serving'][0]['trials']} trials per setting to a horizon of 500 slots",
        f"{reg['trials']} trials at ρ = 1, T = {reg['horizon_slots']} slots",
        "served, batched [J/task]",
        "batch of one (§1) [J/task]",
        "σ from the long-run variance",
        "Clopper-Pearson",
        f"{reg['slope']:.3g} [{reg['slope_low']:.3g}, {reg['slope_high']:.3g}]",
        "Replicas to keep powered",
        "Battery under batching",
    ):
        assert words in text, words
    raw = [h for h in text.splitlines()
           if h.startswith("| ") and re.search(r"\| [a-z]+_[A-Za-z_]+ \|", h)]  # fmt: skip
    assert not raw, raw
    check_opening(text, build.to_html(text, tmp_path),
                  {"Replicas to keep powered", "Battery under batching"})  # fmt: skip
    # Every serving row is a table row, its energy per task with its standard error.
    for r in s["serving"]:
        assert f"{r['energy_per_task_J']:.3g} ± {r['energy_per_task_J_sem']:.2g}" in text


def test_planner_choice_keeps_the_deadlines(run, tmp_path):
    from energy_routing.report.serving import MAX_MISSED, planner_choice

    rows = _summary(run, tmp_path)["serving"]
    for c in planner_choice(rows):
        same = [r for r in rows if (r["model"], r["arrival_rate_per_s"])
                == (c["model"], c["arrival_rate_per_s"])]  # fmt: skip
        assert c["fewest"]["replicas"] == min(r["replicas"] for r in same)
        ok = c["keeps_deadlines"]
        if ok is not None:
            assert ok["missed_deadline_fraction"] + 1.96 * ok["missed_deadline_fraction_sem"] \
                <= MAX_MISSED  # fmt: skip
            fewer = [r for r in same if r["replicas"] < ok["replicas"]]
            assert all(r["missed_deadline_fraction"] + 1.96 * r["missed_deadline_fraction_sem"]
                       > MAX_MISSED for r in fewer)  # fmt: skip


def test_readme_block_from_the_serving_summary(run, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "update_readme", ROOT / "tools" / "update_readme.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    s = _summary(run, tmp_path)
    block = tool.serving_engine_block(tmp_path)
    rows = [line for line in block.splitlines() if line.startswith("| ") and "±" in line]
    assert len(rows) == len(s["serving"])
    reg = s["serving_regimes"]
    assert f"{reg['trials']} trials at rho = 1" in block
    assert f"{reg['slope']:.3g} [{reg['slope_low']:.3g}, {reg['slope_high']:.3g}]" in block
    assert "fig_serving" in tool.figures_block()
    marks = "<!-- generated:serving_engine -->\n<!-- /generated:serving_engine -->\n"
    text = tool._replace("a\n" + marks, "serving_engine", block)
    assert block in text
    readme = (ROOT / "README.md").read_text()
    assert "<!-- generated:serving_engine -->" in readme


def test_site_matching_rate_is_the_arrival_rate_at_batch_one_under_the_paper_law():
    """Under the paper law a batch of one is §1's energy, so the rate that draws C_LB / dt
    is the config's own arrival rate; larger batches share the weights and need more
    tasks; real_site.yaml's number is this function's (docs/model.md §14.2)."""
    import yaml

    from energy_routing.model import grids

    cfg = config.load(ROOT / ".test" / "config.yaml")
    grid = grids.task_grid(cfg)
    sec = study.serving_section(cfg)
    one = study.site_matching_rate(grid, cfg, sec, 1)
    assert one["arrival_rate_per_s"] == pytest.approx(cfg["arrival_rate"] / cfg["dt_s"], rel=1e-9)
    rates = [study.site_matching_rate(grid, cfg, sec, b)["arrival_rate_per_s"] for b in (8, 64)]
    assert one["arrival_rate_per_s"] < rates[0] < rates[1]
    layers = config.read_layers(
        [ROOT / "config" / "config.yaml", ROOT / "config" / "real_site.yaml"]
    )
    site = config.validate(config.merge(layers), layers=layers)
    got = study.site_matching_rate(grids.task_grid(site), site, study.serving_section(site), 32)
    assert round(got["arrival_rate_per_s"], 2) == 1.50
    raw = yaml.safe_load((ROOT / "config" / "real_site.yaml").read_text())["serving"]
    assert raw["regimes"]["arrival_rate_per_s"] == 1.5 and raw["law"] == "fitted"
