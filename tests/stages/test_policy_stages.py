"""The policy, dispatcher and storage stages without Snakemake, on the tiny config, in
seconds: the datasets and summary parts they write, their figures, the report's sections
and ``energy-routing size`` on the storage grid they computed.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

import matplotlib.image
import numpy as np
import pytest
from report_structure import check_opening
from snakerun import ROOT
from stagerun import characterize_into

from energy_routing import cli, config
from energy_routing.engine.policies import POLICIES, Policy
from energy_routing.engine.policies import register as register_policy
from energy_routing.stages import figures as plot
from energy_routing.stages import registry
from energy_routing.stages import report as stages_report
from energy_routing.stages import summary as stages_summary
from energy_routing.stages.common import load_dataset
from energy_routing.studies import sections as studies
from energy_routing.studies.policies import POLICY_RECORD_KEYS

FIGURES = [f for f in registry.FIGURES if f.activate in ("policies", "storage_grid")]
POLICY_KEYS = {"scenario", "provisioning", *POLICY_RECORD_KEYS}
STORAGE_KEYS = {
    "provisioning",
    "capacity_J",
    "aux_J_per_slot",
    "aux_sem_J_per_slot",
    "waste_J_per_slot",
    "waste_sem_J_per_slot",
}


def small_config() -> dict:
    cfg = config.load(ROOT / ".test" / "config.yaml")
    cfg["policies"].update(trials=4, t_max=1500)
    cfg["storage_grid"].update(trials=4, t_max=1500)
    return cfg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Characterize, then the three studies as the workflow's scripts call them."""
    d = tmp_path_factory.mktemp("policies")
    cfg = small_config()
    paths = characterize_into(cfg, d)
    scenarios = {"fig4": {"provisioning": cfg["scenarios"]["fig4"]["provisioning"]}}
    out = {"dir": d, "cfg": cfg, **paths}
    for stage, extra, kw in (
        ("policies", {"scenarios": scenarios}, {"scenario": "fig4"}),
        ("routers", {}, {}),
        ("storage", {}, {}),
    ):
        getattr(importlib.import_module(registry.STAGES[stage].module), stage)(
            json.loads(registry.stage_config(cfg, stage, **extra)),
            grid_nc=paths["grid"],
            out_nc=d / f"{stage}.nc",
            part_json=d / f"{stage}.json",
            threads=2,
            **kw,
        )
        out[f"{stage}_nc"] = d / f"{stage}.nc"
        out[f"{stage}_part"] = d / f"{stage}.json"
    return out


def test_study_sections_take_the_schema_defaults():
    """One set of defaults, the schema's: a study section built from nothing equals the
    section that validation fills in."""
    cfg = config.validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}]})
    for name in ("policies", "storage_grid"):
        assert cfg[name] == studies.section({}, name)


def test_policy_dataset_and_part(run):
    ds = load_dataset(run["policies_nc"])
    assert {"policy", "parameter", "trial", "time"} <= set(ds.dims)
    assert ds.attrs["Conventions"] == "CF-1.11" and "config_json" in ds.attrs
    assert ds.attrs["scenario"] == "fig4" and ds.sizes["trial"] == 4
    rows = json.loads(run["policies_part"].read_text())
    assert all(POLICY_KEYS <= set(r) for r in rows)
    # The transient and rate add up to the difference at T; stochastic reasoning length
    # (on by default) fails at most about delta of the tasks, and it is recorded.
    for r in rows:
        line = r["transient_diff_J"] + r["rate_diff_J_per_slot"] * r["horizon_slots"]
        assert line == pytest.approx(r["diff_vs_myopic_J"], rel=1e-9, abs=1e-6)
        assert r["missed_deadline_guaranteed"] is True
    delta = run["cfg"]["ds3"]["tolerance"]
    assert all(0 < r["failed_task_fraction"] <= 1.5 * delta for r in rows)
    # Three deferral waits, three V, three kappa and the two myopic errors of the config.
    assert sorted({r["policy"] for r in rows}) == [
        "drift_plus_penalty",
        "myopic",
        "slack_deferral",
        "variance_aware",
    ]
    assert len(rows) == 2 + 3 + 3 + 3
    ref = next(r for r in rows if r["policy"] == "myopic" and r["parameter"] == 0.0)
    assert ref["diff_vs_myopic_J"] == 0.0 and ref["diff_vs_myopic_sem_J"] == 0.0


def test_storage_and_router_parts(run):
    rows = json.loads(run["storage_part"].read_text())
    assert len(rows) == 3 * 3 and all(STORAGE_KEYS <= set(r) for r in rows)
    assert [r["capacity_J"] for r in rows[:3]] == [1.0e3, 1.0e4, None]  # null: unbounded
    ds = load_dataset(run["storage_nc"])
    assert {"provisioning", "capacity_J"} <= set(ds.dims)
    routers = json.loads(run["routers_part"].read_text())
    assert [r["router"] for r in routers] == ["light", "heavy-2J", "heavy-4J"]
    assert routers[0]["break_even_energy_J"] > 0


def test_summary_lists_at_top_level(run, tmp_path):
    """Every scenario's policy part joins one top-level list; storage and routers too."""
    parts = {
        "grid": run["part"],
        "policies_fig4": run["policies_part"],
        "policies_other": run["policies_part"],
        "routers": run["routers_part"],
        "storage": run["storage_part"],
    }
    stages_summary.summary(parts, tmp_path / "summary.json")
    s = json.loads((tmp_path / "summary.json").read_text())
    n = len(json.loads(run["policies_part"].read_text()))
    assert isinstance(s["policies"], list) and len(s["policies"]) == 2 * n
    assert isinstance(s["storage"], list) and isinstance(s["routers"], list)
    assert "policies_fig4" not in s


@pytest.fixture(scope="module")
def drawn(run) -> list[str]:
    cfg = json.loads(registry.stage_config(run["cfg"], "figures"))
    inputs = {k: run[k] for k in ("policies_nc", "routers_nc", "storage_nc")}
    for fig in FIGURES:
        stem = run["dir"] / "figures" / fig.filename_stem("fig4")
        plot.draw(fig.plot, cfg, stem=stem, **{k: inputs[k] for k in fig.inputs})
    return sorted(str(p) for p in (run["dir"] / "figures").glob("*.png"))


@pytest.mark.parametrize("fig", FIGURES, ids=lambda f: f.stem)
def test_every_policy_figure_draws(fig, run, drawn):
    image = matplotlib.image.imread(run["dir"] / "figures" / f"{fig.filename_stem('fig4')}.png")
    assert image.shape[0] > 150 and image.shape[1] > 300
    assert image.std() > 0.01


def test_report_sections(run, drawn, tmp_path):
    parts = {
        "grid": run["part"],
        "policies_fig4": run["policies_part"],
        "routers": run["routers_part"],
        "storage": run["storage_part"],
    }
    stages_summary.summary(parts, tmp_path / "summary.json")
    stages_report.report(
        summary_json=tmp_path / "summary.json",
        models_csv=run["models"],
        tasks_csv=run["tasks"],
        figures=drawn,
        html=run["dir"] / "report.html",
        md=run["dir"] / "report.md",
    )
    md = (run["dir"] / "report.md").read_text()
    assert "## Dispatch policies" in md and "## Storage: the planner's chart" in md
    for fig in FIGURES:
        assert f"### {fig.title}" in md, fig.title
    assert "paired difference vs myopic [J]" in md and "Auxiliary energy per slot [J/slot]" in md
    assert "policy_records" not in md and "| diff_vs_myopic_J |" not in md
    # The gain is told as a one-off transient and a rate, never as a share of U_T.
    assert "one-off transient vs myopic [J]" in md and "rate vs myopic [J/slot]" in md
    assert "of myopic's auxiliary energy" not in md
    assert "0 (guaranteed)" in md and "failed tasks [-]" in md
    html = (run["dir"] / "report.html").read_text()
    check_opening(md, html, {"Dispatch rule", "Storage"})
    answers = md.split("## Contents")[0]
    assert "slots" in answers and ("one-off" in answers or "Keep myopic" in answers)


def test_size_command_on_the_storage_grid(run, capsys):
    """`energy-routing size` on the grid the stage wrote: a design, or exit 1 for none."""
    grid = str(run["storage_nc"])
    assert cli.main(["size", "--grid", grid, "--max-aux", "1e6", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["aux_J_per_slot"] <= 1e6
    assert cli.main(["size", "--grid", grid, "--max-aux", "1e-9"]) == 1


# --- The README's recipe "Adding a policy", followed -------------------------------------


@register_policy
@dataclass(frozen=True, kw_only=True)
class Costliest(Policy):
    """A worst-case baseline: every task goes to its most expensive feasible model.

    The whole of the recipe: one class with its self-description, registered. Nothing
    else in the package is edited; the config schema, the policy stage, the summary and
    the report pick it up from the class.
    """

    name = "costliest"
    label = "costliest-model routing"
    description = "Every task to its most expensive feasible model (a worst case)."
    parameter_unit = "1"
    parameter_description = "Routing errors epsilon of the costliest-model cases [-]."
    setting_format = "ε = {:g}"
    parameter_default = (0.0,)
    parameter_maximum = 1.0

    def route_table(self, workload) -> np.ndarray:
        energy = np.where(workload.feasible, workload.energy_J, -np.inf)
        return energy.argmax(axis=1).astype(np.int64)


# Registered for this module's test only; the registry is restored afterwards.
POLICIES.pop(Costliest.name)


@pytest.fixture
def costliest_registered(monkeypatch):
    monkeypatch.setitem(POLICIES, Costliest.name, Costliest)


def test_a_policy_added_by_the_recipe_reaches_config_study_and_report(
    costliest_registered, tmp_path
):
    cfg = small_config()
    # The schema knows the new section, with the class's defaults and bounds.
    assert config.section_defaults("policies")["costliest"] == {"routing_error": [0.0]}
    with pytest.raises(config.ConfigError, match="costliest"):
        config.validate({**cfg, "policies": {"costliest": {"routing_error": [2.0]}}})
    cfg = config.validate({**cfg, "policies": {**cfg["policies"], "trials": 4, "t_max": 1500}})
    paths = characterize_into(cfg, tmp_path)
    scenarios = {"fig4": {"provisioning": cfg["scenarios"]["fig4"]["provisioning"]}}
    importlib.import_module(registry.STAGES["policies"].module).policies(
        json.loads(registry.stage_config(cfg, "policies", scenarios=scenarios)),
        grid_nc=paths["grid"],
        out_nc=tmp_path / "policies.nc",
        part_json=tmp_path / "policies.json",
        scenario="fig4",
    )
    rows = json.loads((tmp_path / "policies.json").read_text())
    (worst,) = [r for r in rows if r["policy"] == "costliest"]
    # Paired on common random numbers with myopic: the costliest model never uses less.
    assert worst["diff_vs_myopic_J"] > 2 * worst["diff_vs_myopic_sem_J"] >= 0
    stages_summary.summary(
        {"grid": paths["part"], "policies_fig4": tmp_path / "policies.json"},
        tmp_path / "summary.json",
    )
    stages_report.report(
        summary_json=tmp_path / "summary.json",
        models_csv=paths["models"],
        tasks_csv=paths["tasks"],
        figures=[],
        html=tmp_path / "report.html",
        md=tmp_path / "report.md",
    )
    md = (tmp_path / "report.md").read_text()
    assert "costliest-model routing" in md


def test_answers_without_the_studies(run):
    """Without the studies the report still opens with its answers section, which says so,
    then the contents; no answer line is made up."""
    import pandas as pd

    from energy_routing.report import answers, build

    s = json.loads(run["part"].read_text())
    assert answers.answers(s) == []
    md = build.build_markdown(
        s, pd.read_csv(run["models"]), pd.read_csv(run["tasks"]), [], run["dir"]
    )
    opening = md.split("## Scenario")[0]
    assert "## Answers" in opening and "did not run" in opening and "## Contents" in opening
    assert "- **" not in opening
