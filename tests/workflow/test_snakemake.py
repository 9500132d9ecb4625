"""The Snakemake workflow, run for real on the tiny config in a copy of the repository.

One session-scoped run of the whole pipeline; then Snakemake's dry run shows which jobs a
change plans: nothing for a no-op, only figures and reports for a figure setting, only the
affected shards onward for a new routing error or more trials, and the stages that import
an edited module.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
import yaml
from snakerun import run_snakemake

from energy_routing.io import netcdf
from energy_routing.replay import archive
from energy_routing.stages import registry
from energy_routing.studies.policies import POLICY_RECORD_KEYS

pytestmark = pytest.mark.slow


def planned(workdir: Path, config: Path | None = None) -> dict[str, int]:
    """Jobs per rule that a dry run would execute."""
    out = run_snakemake(workdir, "-n", "--quiet", "rules", config=config)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


@pytest.fixture(scope="module")
def run(tiny_run):
    """The session's tiny run; these tests only plan (dry runs) or restore what they edit."""
    return tiny_run


def variant(run: Path, tmp_path: Path, **changes) -> Path:
    cfg = yaml.safe_load((run / ".test" / "config.yaml").read_text())
    for dotted, value in changes.items():
        node = cfg
        *head, last = dotted.split("__")
        for key in head:
            node = node.setdefault(key, {})
        node[last] = value
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_pipeline_outputs(run):
    """The numbers agree across stages, recomputed here from the files a user opens."""
    res = run / "results"
    summary = json.loads((res / "summary.json").read_text())
    tasks = pd.read_csv(res / "tables" / "tasks.csv")
    chosen = tasks[tasks.chosen]
    # C_LB = lambda E[e_LB] and lambda E[e_LB^2] from the task table (equal mix).
    assert summary["c_lb_J_per_slot"] == pytest.approx(chosen.energy_J.mean(), rel=1e-12)
    assert summary["consumption_var_J2_per_slot"] == pytest.approx(
        (chosen.energy_J**2).mean(), rel=1e-12
    )
    rows = pd.DataFrame(summary["regimes_fig4"]["rows"])
    assert sorted(zip(rows.routing_error, rows.consumption, strict=True)) == [
        (e, m) for e in (0.0, 0.2) for m in ("distributed", "lumped")
    ]
    with netcdf.load_netcdf(res / "mc" / "fig4.nc") as ds:  # as the stages read it
        assert ds.sizes["trial"] == 12 and ds.sizes["routing_error"] == 2
        final = ds.deficit_J.isel(time=-1).mean("trial")
        for r in rows.itertuples():
            sel = final.sel(routing_error=r.routing_error, consumption=r.consumption)
            assert r.mean_D_Tmax_J == pytest.approx(float(sel), rel=1e-12)
        for var in ds.data_vars.values():
            assert "units" in var.attrs and "long_name" in var.attrs
        for key in ("config_json", "git_revision", "package_versions_json", "root_seed"):
            assert key in ds.attrs
        assert ds.deficit_J.encoding.get("zlib") or ds.deficit_J.encoding.get("compression")
    assert len(summary["sweep"]["rows"]) == 3 * 2  # three ratios, both modes
    # Dispatch policies and storage (docs/model.md §12): top-level lists in summary.json.
    policy_keys = {"scenario", *POLICY_RECORD_KEYS}
    assert summary["policies"] and all(policy_keys <= set(r) for r in summary["policies"])
    assert {r["policy"] for r in summary["policies"]} >= {"myopic", "slack_deferral"}
    assert len(summary["storage"]) == 3 * 3 and len(summary["routers"]) == 3
    # Serving (docs/model.md §14): 2 models x 1 arrival rate x 2 replica counts (.test).
    assert len(summary["serving"]) == 4
    assert all("energy_per_token_J_sem" in r for r in summary["serving"])
    assert summary["serving_regimes"]["transition_groups"] == 2
    assert all("aux_sem_J_per_slot" in r for r in summary["storage"])
    with xr.open_dataset(res / "policies" / "fig4.nc", decode_times=False) as pol:
        assert {"policy", "parameter"} <= set(pol.dims)
        assert pol.attrs["Conventions"] == "CF-1.11" and "config_json" in pol.attrs
    for path in (res / "storage" / "grid.nc", res / "routers" / "routers.nc"):
        assert path.is_file(), path
    md = (res / "report.md").read_text()
    assert "## Dispatch policies" in md and "## Storage: the planner's chart" in md
    with xr.open_dataset(res / "grids" / "tasks.nc") as grid:
        assert set(grid.dims) == {"task", "model", "slot"}
    html = (res / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(registry.FIGURES)
    for fig in registry.FIGURES:
        assert fig.title in html


def test_results_are_readable_by_group_and_others(run):
    """The run used umask 022 (tests/snakerun.py): every result is rw-r--r--."""
    modes = {
        str(p.relative_to(run)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in (run / "results").rglob("*")
        if p.is_file()
    }
    assert modes and set(modes.values()) == {oct(0o644)}, modes


def test_consumption_modes_rerun_no_monte_carlo(run, tmp_path):
    jobs = planned(run, variant(run, tmp_path, consumption=["lumped"]))
    assert {"regimes", "sweep", "report"} <= set(jobs)
    assert not {"mc_shard", "mc_merge", "characterize"} & set(jobs)


def test_policy_and_storage_settings_rerun_only_their_studies(run, tmp_path):
    """A policy setting reruns the policy and dispatcher studies, their figures and the
    summary; a storage setting only the storage grid; neither any Monte Carlo."""
    cfg = yaml.safe_load((run / ".test" / "config.yaml").read_text())
    downstream = {"summary", "report", "all"}
    figs = {f.rule for f in registry.FIGURES if f.activate == "policies"}
    jobs = planned(run, variant(run, tmp_path, policies={**cfg["policies"], "trials": 5}))
    assert {"policies", "routers"} <= set(jobs) <= {"policies", "routers"} | figs | downstream
    jobs = planned(run, variant(run, tmp_path, storage_grid={**cfg["storage_grid"], "trials": 5}))
    assert set(jobs) == {"storage", "fig_storage_planner"} | downstream


def test_shards_verify_and_theorem1_holds(run):
    for path in sorted((run / "results" / "mc" / "shards").rglob("*.nc")):
        ds = netcdf.open_checked(path)
        diff = abs(ds.aux_injected_J - ds.deficit_J).max()
        assert float(diff) <= 1e-9 * max(1.0, float(abs(ds.deficit_J).max()))


def test_second_run_plans_nothing(run):
    assert planned(run) == {}


def test_figure_setting_reruns_only_figures(run, tmp_path):
    jobs = planned(run, variant(run, tmp_path, figures__dpi=72))
    assert jobs, "a figure setting must rerun the figures"
    assert set(jobs) <= {f.rule for f in registry.FIGURES} | {"report", "all"}


def test_new_routing_error_reruns_only_its_shards(run, tmp_path):
    cfg = variant(
        run, tmp_path, scenarios__fig4={"provisioning": 1.0, "routing_errors": [0.0, 0.1, 0.2]}
    )
    jobs = planned(run, cfg)
    assert jobs["mc_shard"] == 3  # the new error's three shards, nothing else
    assert jobs["mc_merge"] == 1
    assert "characterize" not in jobs and "sweep" not in jobs


def test_more_trials_keep_existing_shards(run, tmp_path):
    jobs = planned(
        run,
        variant(
            run,
            tmp_path,
            montecarlo__trials=16,
            montecarlo__seed=7,
            montecarlo__trials_per_shard=4,
            montecarlo__t_max=20000,
            montecarlo__checkpoints=30,
            montecarlo__chunk_slots=4096,
        ),
    )
    # One new shard (trials 12-16) per routing error of fig4; the sweep has its own trials.
    assert jobs["mc_shard"] == 2


def planned_after_edit(workdir: Path, module: str) -> dict[str, int]:
    """Jobs a dry run plans once the package module ``module`` (a path under
    src/energy_routing) is edited; the file is restored afterwards. Snakemake compares
    checksums as well as times, so the edit changes the text."""
    path = workdir / "src" / "energy_routing" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n# an edit\n")
        return planned(workdir)
    finally:
        path.write_text(original)


def test_module_edit_reruns_its_users(run):
    jobs = planned_after_edit(run, "theory/exact.py")
    assert {"regimes", "sweep", "fig_deviation", "fig_growth"} <= set(jobs)
    assert "mc_shard" not in jobs and "characterize" not in jobs


def test_kernel_edit_reruns_the_engine_only(run):
    """Editing the per-slot kernel reruns what simulates (shards onward, the studies), not
    the characterisation, whose code does not import the engine."""
    jobs = planned_after_edit(run, "engine/per_slot.py")
    assert {"mc_shard", "mc_merge", "policies", "storage", "site_storage"} <= set(jobs)
    assert "characterize" not in jobs and "calibration" not in jobs


def test_moved_checkout_plans_nothing(run, tmp_path):
    """A finished run copied with its results and Snakemake's records into another folder
    (times kept, as cp -a or an archive does) plans no job: no input path is absolute."""
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(run, moved, symlinks=True)
    assert planned(moved) == {}


def test_bad_config_fails_before_any_job(run, tmp_path):
    cfg = variant(run, tmp_path, arrival_rate=-1)
    proc = run_snakemake(run, "-n", config=cfg, check=False)
    assert proc.returncode != 0
    assert "arrival_rate" in proc.stdout + proc.stderr
    assert "must be > 0" in proc.stdout + proc.stderr


def test_archive_target_and_verify(run):
    run_snakemake(run, "--", "archive")
    (path,) = (run / "archive").glob("energy-routing-*.tar.gz")
    manifest = archive.verify(path)
    assert "results/summary.json" in manifest["files"]
    assert "config/config.yaml" in manifest["files"]
    assert not any(name.startswith("results/logs/") for name in manifest["files"])


def test_snakemake_report(run, tmp_path):
    out = tmp_path / "report.zip"
    run_snakemake(run, "--report", str(out))
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
    assert any(n.endswith("fig4_growth_fig4.png") for n in names)
    assert any(n.endswith("fig_sweep.png") for n in names)


def test_single_model_config_end_to_end(single_run):
    """One model, no sweep, lumped only: no one can be misrouted, so every routing error
    is the same critical walk (common random numbers make it the same path)."""
    res = single_run / "results"
    summary = json.loads((res / "summary.json").read_text())
    assert "sweep" not in summary and summary["models"] == ["10B"]
    rows = summary["regimes_single"]["rows"]
    assert [(r["routing_error"], r["consumption"]) for r in rows] == [
        (0.0, "lumped"),
        (0.1, "lumped"),
    ]
    assert all(r["mu"] == 0.0 for r in rows)
    assert rows[0]["mean_D_Tmax_J"] == rows[1]["mean_D_Tmax_J"]
    assert not (res / "figures" / "fig_sweep.png").exists()
    # policies.activate and storage_grid.activate are false: no studies, no figures.
    assert "policies" not in summary and "storage" not in summary
    assert "serving" not in summary and not (res / "serving").exists()
    assert not (res / "policies").exists() and not (res / "storage").exists()
    assert not (res / "figures" / "fig_storage_planner.png").exists()
    assert (res / "figures" / "fig4_growth_single.png").exists()
