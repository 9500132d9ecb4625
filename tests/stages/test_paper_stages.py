"""Each stage without Snakemake, on a small config, in seconds: characterize, shards and
merge, regimes and sweep, every registry figure, summary and report.

The stages are called as the workflow's scripts call them; the assertions check what a
user reads: one table row per routing error and analysed consumption mode, one panel per
mode, every figure in the report with its title, headers in words with units.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest
from snakerun import ROOT
from stagerun import characterize_into, simulate_scenario

from energy_routing import config
from energy_routing.figures import paper
from energy_routing.report import build
from energy_routing.stages import figures as plot
from energy_routing.stages import regimes as stages_regimes
from energy_routing.stages import registry
from energy_routing.stages import report as stages_report
from energy_routing.stages import summary as stages_summary
from energy_routing.stages import sweep as stages_sweep
from energy_routing.stages.common import load_dataset

ERRORS = (0.0, 0.2)
#: The figures of these stages; the policy and storage figures are drawn in
#: test_stages_policies.py.
CORE_FIGURES = [f for f in registry.FIGURES if not f.activate]
SWEEP = (0.9, 1.0, 1.1)


def small_config(modes=("lumped", "distributed")) -> dict:
    cfg = config.load(ROOT / ".test" / "config.yaml")
    cfg["montecarlo"].update(t_max=3000, checkpoints=16)
    cfg["consumption"] = list(modes)
    return cfg


def _simulate(cfg, grid_nc, folder: Path, name: str, rho: float, errors, t_max: int) -> str:
    _, merged = simulate_scenario(
        cfg, grid_nc, folder, name, provisioning=rho, routing_errors=errors, t_max=t_max
    )
    return str(merged)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Characterize, simulate one scenario and a three-point sweep, analyse both."""
    d = tmp_path_factory.mktemp("stages")
    cfg = small_config()
    paths = characterize_into(cfg, d)
    mc = _simulate(cfg, paths["grid"], d, "fig4", 1.0, ERRORS, 3000)
    sweep_ncs = [
        _simulate(cfg, paths["grid"], d, f"sweep_rho{rho:g}", rho, (0.0,), 2000) for rho in SWEEP
    ]
    stages_regimes.regimes(
        json.loads(registry.stage_config(cfg, "regimes")),
        mc_nc=mc,
        grid_nc=paths["grid"],
        out_csv=d / "fig4.csv",
        curves_csv=d / "fig4_theory.csv",
        part_json=d / "regimes_fig4.json",
    )
    stages_sweep.sweep(
        json.loads(registry.stage_config(cfg, "sweep")),
        mc_ncs=sweep_ncs,
        grid_nc=paths["grid"],
        out_csv=d / "sweep.csv",
        points_csv=d / "points.csv",
        part_json=d / "sweep.json",
    )
    return {"dir": d, "cfg": cfg, "mc": mc, "sweep": sweep_ncs, **paths}


def test_regimes_table_has_one_row_per_error_and_mode(run):
    table = pd.read_csv(run["dir"] / "fig4.csv")
    assert sorted(zip(table.routing_error, table.consumption, strict=True)) == sorted(
        (e, m) for e in ERRORS for m in ("lumped", "distributed")
    )
    part = json.loads((run["dir"] / "regimes_fig4.json").read_text())
    assert part["trials"] == 12 and len(part["rows"]) == 4
    # The drift of the misrouted scenario is negative, the critical one's zero.
    mu = table.groupby("routing_error").mu.first()
    assert mu[0.0] == pytest.approx(0.0, abs=1e-9) and mu[0.2] < 0


def test_only_configured_modes_are_analysed(run, tmp_path):
    cfg = small_config(modes=("distributed",))
    stages_regimes.regimes(
        json.loads(registry.stage_config(cfg, "regimes")),
        mc_nc=run["mc"],
        grid_nc=run["grid"],
        out_csv=tmp_path / "t.csv",
        curves_csv=tmp_path / "c.csv",
        part_json=tmp_path / "p.json",
    )
    assert set(pd.read_csv(tmp_path / "t.csv").consumption) == {"distributed"}


def test_sweep_rows_and_agreement_per_mode(run):
    table = pd.read_csv(run["dir"] / "sweep.csv")
    assert len(table) == len(SWEEP) * 2
    assert list(table.regime[table.consumption == "lumped"]) == ["deficit", "critical", "surplus"]
    part = json.loads((run["dir"] / "sweep.json").read_text())
    assert set(part["deviation_points_within_2se"]) == {"lumped", "distributed"}
    assert all(0 <= v <= 1 for v in part["deviation_points_within_2se"].values())


def _inputs(fig, run) -> dict:
    d = run["dir"]
    table = {
        "grid_nc": run["grid"],
        "fine_nc": run["fine"],
        "mc_points_csv": d / "points.csv",
        "mc_nc": run["mc"],
        "regimes_csv": d / "fig4.csv",
        "curves_csv": d / "fig4_theory.csv",
        "mc_ncs": run["sweep"],
        "sweep_csv": d / "sweep.csv",
    }
    return {k: table[k] for k in {**fig.inputs, **fig.sweep_inputs}}


@pytest.fixture(scope="module")
def drawn(run) -> list[str]:
    """Every registry figure, drawn as the workflow's figure rule draws it."""
    cfg = json.loads(registry.stage_config(run["cfg"], "figures"))
    for fig in CORE_FIGURES:
        plot.draw(fig.plot, cfg, stem=run["dir"] / "figures" / fig.stem, **_inputs(fig, run))
    return sorted(str(p) for p in (run["dir"] / "figures").glob("*.png"))


@pytest.mark.parametrize("fig", CORE_FIGURES, ids=lambda f: f.stem)
def test_every_registry_figure_draws(fig, run, drawn):
    image = matplotlib.image.imread(run["dir"] / "figures" / f"{fig.stem}.png")
    assert image.shape[0] > 150 and image.shape[1] > 300
    assert image.std() > 0.01  # not a blank canvas


def test_growth_and_distribution_have_one_panel_per_mode(run):
    ds = load_dataset(run["mc"])
    fits = pd.read_csv(run["dir"] / "fig4.csv")
    for modes in (("lumped",), ("lumped", "distributed")):
        fig = paper.fig_deficit_growth(ds, fits, modes)
        assert [ax.get_title() for ax in fig.axes] == [
            f"{m.capitalize()} consumption" for m in modes
        ]
        fig = paper.fig_distribution(ds, modes)
        assert len(fig.axes) == len(modes)


def test_summary_and_report(run, drawn):
    d = run["dir"]
    parts = {
        "grid": run["part"],
        "regimes_fig4": d / "regimes_fig4.json",
        "sweep": d / "sweep.json",
    }
    stages_summary.summary(parts, d / "summary.json")
    summary = json.loads((d / "summary.json").read_text())
    assert summary["c_lb_J_per_slot"] > 0 and "regimes_fig4" in summary and "sweep" in summary
    stages_report.report(
        summary_json=d / "summary.json",
        models_csv=run["models"],
        tasks_csv=run["tasks"],
        figures=drawn,
        html=d / "report.html",
        md=d / "report.md",
    )
    md = (d / "report.md").read_text()
    for fig in CORE_FIGURES:
        assert f"### {fig.title}" in md, fig.title
    headers = [line for line in md.splitlines() if line.startswith("| ")]
    # Table headers are words with units, never raw keys such as mean_D_Tmax_J.
    raw = [h for h in headers if re.search(r"\| [a-z]+_[A-Za-z_]+ \|", h)]
    assert not raw, raw
    assert "mean D_T at T_max [J]" in md and "drift μ [J/slot]" in md
    html = (d / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(CORE_FIGURES)
    # The default supply needs no caveat; any other names itself and warns that the closed
    # forms and the transition test's null are for independent slots.
    assert "approximation for this supply" not in md
    other = {**summary, "regimes_fig4": {**summary["regimes_fig4"], "supply": "solar PV"}}
    warned = build.build_markdown(
        other, pd.read_csv(run["models"]), pd.read_csv(run["tasks"]), [], d
    )
    assert "Supply: solar PV." in warned
    assert "approximation for this supply" in warned and "daily or seasonal cycle" in warned


def test_regimes_without_exact_theory_for_a_deterministic_harvest(run, tmp_path):
    """The exact theory needs a Gamma harvest: with variance_scale 0 its columns are NaN
    (not a crash), and the transition test still runs."""
    cfg = small_config()
    cfg["harvest"] = {**cfg["harvest"], "variance_scale": 0.0}
    stages_regimes.regimes(
        json.loads(registry.stage_config(cfg, "regimes")),
        mc_nc=run["mc"],
        grid_nc=run["grid"],
        out_csv=tmp_path / "t.csv",
        curves_csv=tmp_path / "c.csv",
        part_json=tmp_path / "p.json",
    )
    table = pd.read_csv(tmp_path / "t.csv")
    assert table.exact_D_Tmax_J.isna().all() and table.p_value.notna().all()
    assert pd.read_csv(tmp_path / "c.csv").exact_J.isna().all()


def test_exact_theory_beside_the_monte_carlo(run):
    """Lumped rows carry the exact discrete E[D_Tmax], closer to the Monte Carlo than the
    diffusion (docs/model.md §11), with a bound far below the standard error."""
    table = pd.read_csv(run["dir"] / "fig4.csv")
    lumped = table[table.consumption == "lumped"]
    assert lumped.exact_D_Tmax_J.notna().all()
    assert (lumped.exact_bound_J < 1e-3 * lumped.sem_D_Tmax_J).all()
    assert (lumped.exact_D_Tmax_J < lumped.closed_form_D_Tmax_J).all()
    assert table[table.consumption == "distributed"].exact_D_Tmax_J.isna().all()
