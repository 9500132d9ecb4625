"""The stage registry: each rule's code modules are the modules its stage really imports,
every figure has its plotting function and caption, and a stage reads only its keys."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from snakerun import ROOT

from energy_routing.stages import figures as plot
from energy_routing.stages import registry


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
    assert all(f.is_file() for f in files)
    data = {
        registry.PACKAGE_DIR / f for m in registry.PACKAGE_DATA for f in registry.PACKAGE_DATA[m]
    }
    assert all(f.suffix == ".py" or f in data for f in files)


def test_a_rule_depends_on_the_package_data_its_modules_read():
    """The calibration rule reruns when the measured serving rows change."""
    files = registry.code_modules("calibration")
    assert registry.PACKAGE_DIR / "model/data/mlenergy_h100.csv" in files
    assert not any(f.suffix == ".csv" for f in registry.code_modules("mc_shard"))


def test_closure_follows_imports_transitively():
    """analysis -> regimes and theory: the regimes rule must rerun when theory changes."""
    closure = registry.module_closure("energy_routing.stages.regimes")
    assert "energy_routing.analysis.tables" in closure
    assert any(m.startswith("energy_routing.theory.exact") for m in closure)
    assert "energy_routing.figures.paper" not in closure
    assert "energy_routing.report.build" not in closure


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
    from energy_routing.stages.report import report_figures

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
    assert ast.unparse(block.items[0].context_expr).startswith("common.logged(")
    assert len(block.body) in (1, 2)  # the call, after at most one local binding


# --- The layout: no module imports from a layer above it ---------------------------------

#: The package's layers, lowest first (README, "Layout"); a module may import its own layer
#: and any lower one. Imports under ``if TYPE_CHECKING:`` never run and do not count.
LAYERS = (
    ("energy_routing", "units", "errors"),
    ("theory",),
    ("supply",),
    ("model",),
    ("engine",),
    ("config",),
    ("io",),
    ("studies",),
    ("analysis",),
    ("figures",),
    ("report",),
    ("replay",),
    ("stages",),
    ("cli",),
)


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else module
    (rank,) = [i for i, names in enumerate(LAYERS) if part in names]
    return rank


def _package_modules() -> list[str]:
    package = ROOT / "src" / "energy_routing"
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_no_module_imports_from_a_layer_above_it():
    upward = [
        f"{m} -> {n}"
        for m in _package_modules()
        for n in registry._imports(m, nested=True)
        if _layer(n) > _layer(m)
    ]
    assert upward == []


def test_every_module_is_in_a_layer_and_small_enough_to_read():
    """Each module has a layer, and none is over 700 lines (one job each)."""
    for m in _package_modules():
        _layer(m)
    package = ROOT / "src" / "energy_routing"
    sizes = {
        str(p.relative_to(package)): len(p.read_text().splitlines()) for p in package.rglob("*.py")
    }
    assert max(sizes.values()) <= 700, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
