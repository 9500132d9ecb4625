"""The policy, dispatcher and storage stages without Snakemake, on the tiny config, in
seconds: the datasets and summary parts they write, their figures, the report's sections
and ``energy-routing size`` on the storage grid they computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest
from stagerun import characterize_into

from energy_routing import cli, config
from energy_routing.engine import studies
from energy_routing.engine.compare import POLICY_RECORD_KEYS
from energy_routing.stages import load_dataset, plot, policies, publish, registry

ROOT = Path(__file__).resolve().parents[1]
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
        getattr(policies, stage)(
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


def test_schema_defaults_are_the_engine_defaults():
    """One set of defaults: the schema's equal engine.studies.DEFAULTS."""
    cfg = config.validate({"tasks": [{"name": "a", "difficulty": 1.9, "deadline_s": 60}]})
    for name in ("policies", "storage_grid"):
        assert cfg[name] == studies.DEFAULTS[name]


def test_policy_dataset_and_part(run):
    ds = load_dataset(run["policies_nc"])
    assert {"policy", "parameter", "trial", "time"} <= set(ds.dims)
    assert ds.attrs["Conventions"] == "CF-1.11" and "config_json" in ds.attrs
    assert ds.attrs["scenario"] == "fig4" and ds.sizes["trial"] == 4
    rows = json.loads(run["policies_part"].read_text())
    assert all(POLICY_KEYS <= set(r) for r in rows)
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
    publish.summary(parts, tmp_path / "summary.json")
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
    publish.summary(parts, tmp_path / "summary.json")
    publish.report(
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


def test_size_command_on_the_storage_grid(run, capsys):
    """`energy-routing size` on the grid the stage wrote: a design, or exit 1 for none."""
    grid = str(run["storage_nc"])
    assert cli.main(["size", "--grid", grid, "--max-aux", "1e6", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["aux_J_per_slot"] <= 1e6
    assert cli.main(["size", "--grid", grid, "--max-aux", "1e-9"]) == 1
