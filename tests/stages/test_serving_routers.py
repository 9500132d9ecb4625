"""Batch-aware against myopic routing in the serving stage, on the tiny config: the
dataset, the summary list ``serving_routers`` and its paired standard errors
(docs/model.md §14.2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from snakerun import ROOT
from stagerun import characterize_into

from energy_routing import config
from energy_routing.engine.batched import ROUTERS, serve_trial, trial_totals
from energy_routing.engine.streams import scenario_key, trial_streams
from energy_routing.stages import registry
from energy_routing.stages import serving as stage
from energy_routing.stages import summary as stages_summary
from energy_routing.stages.common import load_dataset
from energy_routing.studies import serving as study


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("serving_routers")
    cfg = config.load(ROOT / ".test" / "config.yaml")
    cfg["serving"]["regimes"]["activate"] = False
    paths = characterize_into(cfg, d)
    out = {k: d / f"{k}{'.nc' if 'part' not in k else '.json'}"
           for k in ("serving", "regimes", "routers", "serving_part", "regimes_part",
                     "routers_part")}  # fmt: skip
    stage.serving(
        json.loads(registry.stage_config(cfg, "serving")),
        grid_nc=paths["grid"],
        out_nc=out["serving"],
        regimes_nc=out["regimes"],
        part_json=out["serving_part"],
        regimes_part_json=out["regimes_part"],
        routers_nc=out["routers"],
        routers_part_json=out["routers_part"],
    )
    return {"cfg": cfg, **paths, **out}


def test_dataset_and_paired_standard_errors(run):
    ds = load_dataset(run["routers"])
    assert ds.attrs["Conventions"] == "CF-1.11" and "config_json" in ds.attrs
    # router_comparison defaults to the study's settings.
    assert dict(ds.sizes) == {"router": 2, "arrival_rate_per_s": 1, "replicas": 2, "trial": 3}
    assert list(ds.router.values) == list(ROUTERS)
    for name in ("energy_per_task_J", "missed_fraction", "unfinished_fraction"):
        per = ds[name].sel(router="batch_aware") - ds[name].sel(router="myopic")
        np.testing.assert_array_equal(ds[f"{name}_diff"], per)
        d = per.to_numpy()
        n = np.isfinite(d).sum(axis=-1)
        sem = np.nanstd(d, axis=-1, ddof=1) / np.sqrt(n)
        np.testing.assert_allclose(ds[f"{name}_diff_sem"], sem, rtol=1e-12)
    # The pairing matters: the paired SE of the energy difference is below the SE of a
    # difference of independent means, sqrt(se_a^2 + se_b^2).
    unpaired = np.hypot(*ds["energy_per_task_J_sem"].to_numpy())
    assert np.all(ds["energy_per_task_J_diff_sem"].to_numpy() < unpaired)
    rows = json.loads(run["routers_part"].read_text())
    assert len(rows) == 2
    for row in rows:
        sel = ds.sel(arrival_rate_per_s=row["arrival_rate_per_s"], replicas=row["replicas"])
        assert row["energy_per_task_J_diff"] == pytest.approx(
            float(sel["energy_per_task_J_diff"].mean())
        )
        assert row["energy_per_task_J_diff_sem"] == pytest.approx(
            float(sel["energy_per_task_J_diff_sem"])
        )
        assert row["energy_per_task_J_batch_aware"] - row["energy_per_task_J_myopic"] == (
            pytest.approx(row["energy_per_task_J_diff"])
        )


def test_trials_are_the_serving_studys_streams(run):
    """A trial of the comparison is the engine's trial k on the study's streams."""
    cfg = run["cfg"]
    ds = load_dataset(run["routers"])
    grid = load_dataset(run["grid"])
    sec = study.serving_section(cfg)
    rate, reps = float(ds.arrival_rate_per_s[0]), int(ds.replicas[-1])
    plan, _ = study._engine_plan(grid, cfg, sec, rate)
    mc = cfg["montecarlo"]
    for router in ROUTERS:
        splan = study.serving_plan(grid, cfg, sec, reps, router, plan)
        tr = serve_trial(plan, splan, trial_streams(mc["seed"], scenario_key("serving"), 2),
                         int(sec["horizon_slots"]), chunk_slots=mc["chunk_slots"])  # fmt: skip
        got = trial_totals(tr, splan, float(cfg.get("dt_s", 1.0)))["energy_per_task_J"]
        want = (
            ds["energy_per_task_J"]
            .sel(router=router, replicas=reps)
            .isel(arrival_rate_per_s=0, trial=2)
        )
        assert got == float(want)


def test_summary_merges_and_switch_off(run, tmp_path):
    parts = {"grid": run["part"], "serving": run["serving_part"],
             "serving_routers": run["routers_part"]}  # fmt: skip
    stages_summary.summary(parts, tmp_path / "summary.json")
    s = json.loads((tmp_path / "summary.json").read_text())
    assert isinstance(s["serving_routers"], list) and len(s["serving_routers"]) == 2
    cfg = {**run["cfg"], "serving": {**run["cfg"]["serving"]}}
    cfg["serving"]["router_comparison"] = {"activate": False}
    cfg["serving"]["trials"] = 2
    cfg["serving"]["horizon_slots"] = 50
    stage.serving(
        json.loads(registry.stage_config(cfg, "serving")),
        grid_nc=run["grid"],
        out_nc=tmp_path / "s.nc",
        regimes_nc=tmp_path / "r.nc",
        part_json=tmp_path / "s.json",
        regimes_part_json=tmp_path / "r.json",
        routers_nc=tmp_path / "c.nc",
        routers_part_json=tmp_path / "c.json",
    )
    assert json.loads((tmp_path / "c.json").read_text()) == []


def test_router_comparison_keys_are_checked():
    sec = study.serving_section({"serving": {"router_comparison": {"replicas": [3]}}})
    assert sec["router_comparison"]["replicas"] == [3]
    assert sec["router_comparison"]["arrival_rates_per_s"] is None
    with pytest.raises(config.ConfigError, match="router_comparison"):
        config.validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}],
                         "serving": {"router_comparison": {"replicas": [0]}}})  # fmt: skip
