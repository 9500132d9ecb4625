"""CF-1.11 compliance of every NetCDF file the pipeline writes, by the IOOS checker's verdict.

Each file goes through the checker's command line (``compliance-checker --test cf:1.11
--criteria strict``), which must exit with status 0 and report no high (error), medium
(warning) or low (suggestion) finding. Exit status 0 also means every check ran: a check
that raises makes the checker exit with status 2, whatever its report says (its JSON report
leaves such exceptions out). String-valued coordinate variables did exactly that
(``strict_monotonicity``); the files now store named dimensions as integers with
``<dim>_label`` string coordinates (:mod:`energy_routing.io.labels`).

* Fast: one file of each kind, produced for real by the stages on the tiny config
  (``.test/config.yaml``, few trials, short horizon): the task and difficulty grids of the
  characterize stage, Monte Carlo shards of two routing errors and two trial ranges, their
  merge, the datasets of the policy, dispatcher and storage studies (docs/model.md §12) and
  the storage grid at a real site (§13) and the year at a site (§15); and the checker's
  exit status 2 on a file with a string coordinate variable, so these tests can fail.
* Slow: every ``.nc`` file of a real Snakemake run of the tiny config (the session's
  ``tiny_run``, shared with the golden and end-to-end tests), shards included.

The shard stage passes the slot length ``dt_s`` of the grid, so ``time`` is a CF time
coordinate (see the docstring of :mod:`energy_routing.io.netcdf`).
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from snakerun import ROOT
from stagerun import characterize_into, simulate_scenario

from energy_routing import config
from energy_routing.io.netcdf import write_netcdf_atomic

pytest.importorskip("compliance_checker")
CLI = Path(sys.executable).with_name("compliance-checker")
if not CLI.is_file():
    CLI = Path(shutil.which("compliance-checker") or CLI)

CHECKER = "cf:1.11"
CHECKER_ARGS = ("--test", CHECKER, "--criteria", "strict", "--format", "json")
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
    files["serving_routers"] = out / "routers.nc"
    serving.serving(
        json.loads(registry.stage_config(cfg, "serving")),
        grid_nc=grid_nc,
        out_nc=files["serving"],
        regimes_nc=files["serving_regimes"],
        part_json=out / "serving.json",
        regimes_part_json=out / "serving_regimes.json",
        routers_nc=files["serving_routers"],
        routers_part_json=out / "serving_routers.json",
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
    from energy_routing.stages import site_year

    cfg["site_year"].update(
        weather_files=["723170TYA.CSV"],
        years=20,
        pv_kwp_per_kw=[4.0, 8.0],
        battery_hours=[0.0, 8.0],
    )
    files["site_year"] = out / "site_year.nc"
    site_year.site_year(
        json.loads(registry.stage_config(cfg, "site_year")),
        grid_nc=grid_nc,
        dataset=files["site_year"],
        part_json=out / "site_year.json",
    )
    return files


def cf_check(path: Path, out: Path) -> tuple[int, dict]:
    """The checker's exit status and JSON report (``--test cf:1.11 --criteria strict``)."""
    proc = subprocess.run(
        [str(CLI), *CHECKER_ARGS, "--output", str(out), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(out.read_text())[CHECKER] if out.is_file() else {}
    if proc.returncode:
        # What the checker says on its console (the exceptions of checks that raised).
        report["console"] = (proc.stdout + proc.stderr).strip()[-2000:]
    return proc.returncode, report


def _failures(report: dict, priority: str) -> list[str]:
    """The failed checks of one priority (high, medium, low), each with its messages."""
    return [
        f"{r['name']}: {'; '.join(dict.fromkeys(r['msgs']))}"
        for r in report.get(f"{priority}_priorities", [])
        if r["value"][0] < r["value"][1] or r["msgs"]
    ]


def cf_problems(path: Path, out: Path) -> list[str]:
    """Everything wrong with one file: a non-zero exit status and every finding."""
    status, report = cf_check(path, out)
    problems = [f"exit status {status}: {report.get('console', '')}"] if status else []
    for priority in ("high", "medium", "low"):
        problems += [f"{priority}: {f}" for f in _failures(report, priority)]
    return problems


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
        "site_year",
        "serving",
        "serving_regimes",
        "serving_routers",
    ],
)
def test_checker_exits_0_with_no_findings(nc_files, kind, tmp_path):
    problems = cf_problems(nc_files[kind], tmp_path / "report.json")
    assert not problems, f"{nc_files[kind].name}:\n" + "\n".join(problems)


def test_checker_exits_2_on_a_string_coordinate_variable(tmp_path):
    """The oracle can fail: names as a coordinate variable make a check raise (status 2);
    the same dataset written by the package's writer passes."""
    ds = xr.Dataset(
        {"energy_J": ("model", np.array([1.0, 2.0]), {"units": "J", "long_name": "energy"})},
        coords={"model": ("model", np.array(["1B", "10B"]), {"long_name": "hosted model"})},
        attrs={"Conventions": "CF-1.11", "title": "two models", "history": "written here"},
    )
    raw, ours = tmp_path / "raw.nc", tmp_path / "ours.nc"
    ds.to_netcdf(raw, encoding={v: {"_FillValue": None} for v in ds.variables})
    write_netcdf_atomic(ds, ours)
    status, report = cf_check(raw, tmp_path / "raw.json")
    assert status == 2 and "strict_monotonicity" in report["console"]
    assert cf_check(ours, tmp_path / "ours.json")[0] == 0


#: Files of every kind a run writes (paths under results/; a folder stands for its files).
RUN_KINDS = (
    "grids/tasks.nc",
    "grids/difficulty.nc",
    "mc/shards/fig4",
    "mc/fig4.nc",
    "mc/sweep_rho1.nc",
    "policies/fig4.nc",
    "routers/routers.nc",
    "storage/grid.nc",
    "realworld/site_storage.nc",
)


@pytest.mark.slow
def test_every_file_of_a_real_run_passes(tiny_run, tmp_path):
    results = tiny_run / "results"
    files = sorted(p for p in results.rglob("*.nc") if not p.name.startswith("."))
    rel = [p.relative_to(results).as_posix() for p in files]
    missing = [k for k in RUN_KINDS if not any(r == k or r.startswith(k + "/") for r in rel)]
    assert not missing, f"the run wrote no {missing} (NetCDF files: {rel})"
    failed = {}
    for i, (path, name) in enumerate(zip(files, rel, strict=True)):
        problems = cf_problems(path, tmp_path / f"report{i}.json")
        if problems:
            failed[name] = problems
    assert not failed, f"{len(failed)} of {len(files)} files fail the CF checker:\n" + "\n".join(
        f"{name}: {'; '.join(p)}" for name, p in failed.items()
    )
