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
