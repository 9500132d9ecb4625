"""The stage registry: each rule's code modules are the modules its stage really imports,
every figure has its plotting function and caption, and a stage reads only its keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from energy_routing.stages import plot, registry

ROOT = Path(__file__).resolve().parents[1]


def runtime_imports(module: str) -> list[str]:
    """Package modules loaded by importing ``module`` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m == 'energy_routing' or m.startswith('energy_routing.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


@pytest.mark.parametrize("stage", sorted(registry.STAGES))
def test_declared_code_modules_are_the_real_imports(stage):
    """The static closure of import-time imports equals what Python loads; the code a
    rule lists adds what functions import when called, and nothing outside the package."""
    module = registry.STAGES[stage].module
    loaded = runtime_imports(module)
    assert registry.module_closure(module, nested=False) == loaded
    assert set(loaded) <= set(registry.module_closure(module))
    files = registry.code_modules(stage)
    assert all(f.is_file() and f.suffix == ".py" for f in files)


def test_closure_follows_imports_transitively():
    """analysis -> regimes and theory: the regimes rule must rerun when theory changes."""
    closure = registry.module_closure("energy_routing.stages.analyze")
    assert "energy_routing.analysis" in closure
    assert any(m.startswith("energy_routing.theory") for m in closure)
    assert "energy_routing.figures" not in closure and "energy_routing.report" not in closure


def test_every_figure_has_a_plot_function_and_caption():
    rules = [f.rule for f in registry.FIGURES]
    assert len(set(rules)) == len(rules)
    for fig in registry.FIGURES:
        assert callable(getattr(plot, fig.plot)), fig.plot
        caption = ROOT / "workflow" / "rules" / registry.caption_file(fig)
        assert caption.resolve().is_file(), caption
        assert fig.scope in {"once", "scenario", "sweep"}


def test_stage_config_takes_only_the_declared_keys():
    cfg = {
        "montecarlo": {"seed": 1, "t_min": 10, "checkpoints": 5, "chunk_slots": 64, "trials": 9},
        "arrival_rate": 1.0,
        "harvest": {"variance_scale": 1.0},
        "dt_s": 1.0,
        "supply": {"model": "iid"},
        "load": {"amplitude": 0.0},
        "figures": {"dpi": 10},
    }
    got = json.loads(registry.stage_config(cfg, "mc_shard", scenario={"t_max": 5}))
    assert got == {
        "montecarlo": {"seed": 1, "t_min": 10, "checkpoints": 5, "chunk_slots": 64},
        "arrival_rate": 1.0,
        "harvest": {"variance_scale": 1.0},
        "dt_s": 1.0,
        "supply": {"model": "iid"},
        "load": {"amplitude": 0.0},
        "scenario": {"t_max": 5},
    }
    with pytest.raises(KeyError):
        registry.stage_config({}, "figures")


def test_report_figures_follow_the_registry_order():
    from energy_routing.stages.publish import report_figures

    paths = [
        "results/figures/fig_sweep.png",
        "results/figures/fig4_growth_b.png",
        "results/figures/fig4_growth_a.png",
        "results/figures/fig3_costs.png",
        "results/figures/fig3_costs.pdf",
    ]
    got = [(title, stem) for title, stem, _ in report_figures(paths)]
    assert got == [
        ("Fig. 3: energy and latency per task", "fig3_costs"),
        ("Fig. 4: auxiliary energy against horizon (a)", "fig4_growth_a"),
        ("Fig. 4: auxiliary energy against horizon (b)", "fig4_growth_b"),
        ("Provisioning sweep: the three regimes", "fig_sweep"),
    ]


@pytest.mark.parametrize(
    "script", sorted((ROOT / "workflow" / "scripts").glob("*.py")), ids=lambda p: p.name
)
def test_every_script_is_one_call_into_stages(script):
    """README: the scripts are thin; all the work is in energy_routing.stages."""
    import ast

    tree = ast.parse(script.read_text())
    packages = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    ours = {p for p in packages if p.startswith("energy_routing")}
    assert ours and all(p in {"energy_routing", "energy_routing.stages"} for p in ours), ours
    (block,) = [n for n in tree.body if isinstance(n, ast.With)]
    assert ast.unparse(block.items[0].context_expr).startswith("stages.logged(")
    assert len(block.body) in (1, 2)  # the call, after at most one local binding
