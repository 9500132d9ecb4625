"""CF-1.11 compliance of every kind of NetCDF file the pipeline writes.

Each kind is produced for real on the tiny config (``.test/config.yaml``, with few trials
and a short horizon): the task grid and the difficulty grid of the characterize stage,
Monte Carlo shards of two routing errors and two trial ranges, their merge, and the
datasets of the policy, dispatcher and storage studies (docs/model.md §12) and the storage
grid at a real site (§13). Each file
goes through the IOOS compliance checker (``compliance-checker --test cf:1.11 --criteria
strict``), which must report no high (error) and no medium (warning) finding.

The shard stage passes the slot length ``dt_s`` of the grid, so ``time`` is a CF time
coordinate (see the docstring of :mod:`energy_routing.io.netcdf`).

The checker's note "exceptions occurred ... strict_monotonicity" on string coordinates
(task and model names) is a limitation of the checker, not a finding.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path

import pytest
from snakerun import ROOT
from stagerun import characterize_into, simulate_scenario

from energy_routing import config

compliance_runner = pytest.importorskip("compliance_checker.runner")

CHECKER = "cf:1.11"
SCENARIO = "fig4"
ROUTING_ERRORS = (0.0, 0.2)
TRIAL_RANGES = ((0, 2), (2, 4))
T_MAX = 2000  # slots


def _monte_carlo(cfg: dict, grid_nc: Path, out: Path) -> dict[str, Path]:
    """Shards of each routing error and trial range, and their merge, under ``out``."""
    shards, merged = simulate_scenario(
        cfg,
        grid_nc,
        out,
        SCENARIO,
        provisioning=1.0,
        routing_errors=ROUTING_ERRORS,
        t_max=T_MAX,
        trial_ranges=TRIAL_RANGES,
    )
    return {"shard": shards[-1], "merged": merged}


@pytest.fixture(scope="module")
def nc_files(tmp_path_factory) -> dict[str, Path]:
    """One file of each kind the pipeline writes, keyed by kind."""
    root = tmp_path_factory.mktemp("cf")
    cfg = config.load(ROOT / ".test" / "config.yaml")
    grids = characterize_into(cfg, root / "grids")
    files = {"tasks": grids["grid"], "difficulty": grids["fine"]}
    files.update(_monte_carlo(cfg, files["tasks"], root / "mc"))
    files.update(_studies(cfg, files["tasks"], root / "studies"))
    return files


def _studies(cfg: dict, grid_nc: Path, out: Path) -> dict[str, Path]:
    """The policy, dispatcher and storage datasets (docs/model.md §12), small."""
    from energy_routing.stages import registry

    cfg["policies"].update(trials=2, t_max=1000)
    cfg["storage_grid"].update(trials=2, t_max=1000)
    out.mkdir(parents=True, exist_ok=True)
    scenarios = {SCENARIO: {"provisioning": 1.0}}
    files = {}
    for stage, extra, kw in (
        ("policies", {"scenarios": scenarios}, {"scenario": SCENARIO}),
        ("routers", {}, {}),
        ("storage", {}, {}),
    ):
        files[stage] = out / f"{stage}.nc"
        getattr(importlib.import_module(registry.STAGES[stage].module), stage)(
            json.loads(registry.stage_config(cfg, stage, **extra)),
            grid_nc=grid_nc,
            out_nc=files[stage],
            part_json=out / f"{stage}.json",
            **kw,
        )
    from energy_routing.stages import serving

    cfg["serving"].update(trials=2, horizon_slots=300, replicas=[2], arrival_rates_per_s=[0.5])
    cfg["serving"]["regimes"].update(trials=20, off_critical_trials=10,
                                     t_max=1500, warmup_slots=100, block_slots=100)  # fmt: skip
    files["serving"], files["serving_regimes"] = out / "serving.nc", out / "regimes.nc"
    serving.serving(
        json.loads(registry.stage_config(cfg, "serving")),
        grid_nc=grid_nc,
        out_nc=files["serving"],
        regimes_nc=files["serving_regimes"],
        part_json=out / "serving.json",
        regimes_part_json=out / "serving_regimes.json",
    )
    from energy_routing.stages import site_storage

    cfg["realworld"]["storage"].update(trials=2, horizon_days=1.0, provisioning=[1.0])
    cfg["realworld"]["storage"]["capacity_hours"] = [1.0, None]
    files["site_storage"] = out / "site_storage.nc"
    site_storage.site_storage(
        json.loads(registry.stage_config(cfg, "site_storage")),
        grid_nc=grid_nc,
        dataset=files["site_storage"],
        part_json=out / "site_storage.json",
    )
    return files


def cf_findings(path: Path, out: Path) -> dict:
    """The checker's JSON report (``--test cf:1.11 --criteria strict``) for one file."""
    runner = compliance_runner
    with warnings.catch_warnings():
        # Loading the checker plugins warns that the (unused) IOOS SOS checker is
        # deprecated; the CF checks themselves must not warn.
        warnings.simplefilter("ignore", DeprecationWarning)
        runner.CheckSuite.load_all_available_checkers()
    runner.ComplianceChecker.run_checker(
        str(path),
        [CHECKER],
        0,
        "strict",
        output_filename=str(out),
        output_format="json",
    )
    return json.loads(out.read_text())[CHECKER]


def _failures(report: dict, priority: str) -> list[str]:
    """The failed checks of one priority (high, medium, low), each with its messages."""
    return [
        f"{r['name']}: {'; '.join(dict.fromkeys(r['msgs']))}"
        for r in report[f"{priority}_priorities"]
        if r["value"][0] < r["value"][1] or r["msgs"]
    ]


@pytest.mark.parametrize(
    "kind",
    [
        "tasks",
        "difficulty",
        "shard",
        "merged",
        "policies",
        "routers",
        "storage",
        "site_storage",
        "serving",
        "serving_regimes",
    ],
)
def test_no_cf_errors_or_warnings(nc_files, kind, tmp_path):
    report = cf_findings(nc_files[kind], tmp_path / "report.json")
    high, medium = _failures(report, "high"), _failures(report, "medium")
    assert report["high_count"] + report["medium_count"] == 0, (
        f"{nc_files[kind].name}: {report['high_count']} errors, {report['medium_count']} "
        "warnings:\n" + "\n".join([*high, *medium])
    )
    # Low-priority suggestions are addressed too.
    assert report["low_count"] == 0, "\n".join(_failures(report, "low"))
