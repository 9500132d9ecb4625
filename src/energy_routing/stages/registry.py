"""The pipeline's stages and figures in one table.

This module is the single home of what the workflow needs to know about each stage: the
stage module its script calls, the config sections it reads, the files it writes, and for
every figure its stem, title, report category and inputs. The Snakemake rules, ``rule all``,
the report and the README generator all derive from it, so adding a figure means one entry
here, one plotting function in :mod:`energy_routing.stages.figures` (called by its name) and
one caption file ``workflow/report/<stem>.rst``.

The code a rule depends on is not listed by hand: :func:`code_modules` follows the stage
module's imports (transitively, within the package), so a rule reruns exactly when code it
runs changes.

Examples
--------
>>> STAGES["regimes"].module
'energy_routing.stages.regimes'
>>> [f.stem for f in FIGURES if f.scope == "scenario" and not f.activate]
['fig4_growth', 'fig_distribution']
>>> stage_config({"figures": {"dpi": 150}, "consumption": ["lumped"], "x": 1}, "figures")
'{"consumption": ["lumped"], "figures": {"dpi": 150}}'
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "energy_routing"
PACKAGE_DIR = Path(__file__).resolve().parents[1]

#: Config sections that shape the per-task grid (docs/model.md §1-5).
GRID_KEYS = (
    "hardware",
    "models",
    "chinchilla",
    "sigmoid_steepness",
    "ds3",
    "tasks",
    "dispatch_latency_s",
    "arrival_rate",
    "dt_s",
    "harvest",
    "fine_grid",
)

#: Config sections of the time structure of harvest and load (docs/model.md §13): every
#: Monte Carlo run reads them through ``grids.workload``.
SUPPLY_KEYS = ("dt_s", "supply", "load")


@dataclass(frozen=True)
class Stage:
    """One kind of job of the workflow.

    Parameters
    ----------
    module : str
        The module of :mod:`energy_routing.stages` whose function the rule's script calls.
    config : tuple of str
        Config keys the stage reads, as dotted paths (``"montecarlo.seed"``); a rule gets
        exactly these in its params (:func:`stage_config`), so other edits do not rerun it.
    outputs : mapping of str to str
        Named output paths, with Snakemake wildcards.
    """

    module: str
    config: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """One figure of the pipeline.

    Parameters
    ----------
    stem : str
        File stem under ``results/figures``; per-scenario figures append ``_<scenario>``.
        Also the name of the rule (``fig_*``) is derived from it, and the caption lives in
        ``workflow/report/<stem>.rst``.
    rule : str
        The Snakemake rule that draws it.
    plot : str
        Name of the function in :mod:`energy_routing.stages.figures` that draws it; it takes
        the figure config, the analysed consumption modes, ``stem`` and the inputs below as
        keyword arguments.
    title : str
        Heading in the reports.
    category : str
        Category in ``snakemake --report``.
    scope : str
        ``"once"`` (one figure), ``"scenario"`` (one per named scenario) or ``"sweep"``
        (one, only when the provisioning sweep runs).
    inputs : mapping of str to str
        Keyword argument -> path pattern. ``{scenario}`` is the figure's scenario;
        ``{sweep}`` expands to the list of sweep scenarios.
    sweep_inputs : mapping of str to str
        Inputs used only when the sweep runs (e.g. Monte Carlo points on a closed form).
    readme : bool
        Whether the README shows it (for the default scenario ``fig4``).
    activate : str
        A config section whose ``activate`` key switches the figure on (``"policies"``,
        ``"storage_grid"``); empty for always.
    """

    stem: str
    rule: str
    plot: str
    title: str
    category: str
    scope: str = "once"
    inputs: Mapping[str, str] = field(default_factory=dict)
    sweep_inputs: Mapping[str, str] = field(default_factory=dict)
    readme: bool = True
    activate: str = ""

    def filename_stem(self, scenario: str | None = None) -> str:
        """``fig4_growth_<scenario>`` for per-scenario figures, else the stem."""
        return f"{self.stem}_{scenario}" if self.scope == "scenario" else self.stem


MC = "results/mc/{scenario}.nc"
SWEEP_MC = "results/mc/{sweep}.nc"
GRID = "results/grids/tasks.nc"
FINE = "results/grids/difficulty.nc"
POLICIES = "results/policies/{scenario}.nc"
ROUTERS = "results/routers/routers.nc"
STORAGE = "results/storage/grid.nc"
SITE_STORAGE = "results/realworld/site_storage.nc"
SITE_YEAR = "results/realworld/site_year.nc"
SERVING = "results/serving/serving.nc"
#: Monte Carlo settings the policy, dispatcher and storage studies read.
STUDY_MC_KEYS = (
    "montecarlo.seed",
    "montecarlo.t_min",
    "montecarlo.checkpoints",
    "montecarlo.chunk_slots",
)

STAGES: dict[str, Stage] = {
    "characterize": Stage(
        "energy_routing.stages.characterize",
        GRID_KEYS,
        {
            "models": "results/tables/models.csv",
            "tasks": "results/tables/tasks.csv",
            "grid": GRID,
            "fine": FINE,
            "part": "results/parts/grid.json",
        },
    ),
    "mc_shard": Stage(
        "energy_routing.stages.mc_shard",
        (
            "montecarlo.seed",
            "montecarlo.t_min",
            "montecarlo.checkpoints",
            "montecarlo.chunk_slots",
            "arrival_rate",
            "harvest",
            *SUPPLY_KEYS,
        ),
        {"shard": "results/mc/shards/{scenario}/eps{eps}/trials{start}-{stop}.nc"},
    ),
    "mc_merge": Stage("energy_routing.stages.mc_merge", (), {"merged": MC}),
    # The exact theory needs the increment law: arrival rate and harvest (docs/model.md §11).
    "regimes": Stage(
        "energy_routing.stages.regimes",
        (
            "regimes",
            "reserve_quantiles",
            "consumption",
            "arrival_rate",
            "harvest",
            *SUPPLY_KEYS,
            "montecarlo.seed",
        ),
        {
            "table": "results/regimes/{scenario}.csv",
            "curves": "results/theory/{scenario}.csv",
            "part": "results/parts/regimes_{scenario}.json",
        },
    ),
    "sweep": Stage(
        "energy_routing.stages.sweep",
        ("regimes", "consumption", "arrival_rate", "harvest", *SUPPLY_KEYS),
        {
            "table": "results/regimes/sweep.csv",
            "points": "results/regimes/deviation_points.csv",
            "part": "results/parts/sweep.json",
        },
    ),
    "figures": Stage("energy_routing.stages.figures", ("figures", "consumption")),
    "summary": Stage("energy_routing.stages.summary", (), {"summary": "results/summary.json"}),
    "report": Stage(
        "energy_routing.stages.report",
        (),
        {"html": "results/report.html", "md": "results/report.md"},
    ),
    "archive": Stage("energy_routing.stages.archive"),
    # Dispatch policies, dispatchers and storage (docs/model.md §12), when their section's
    # activate is true. Threads do not change the numbers, so they are not in the params.
    "policies": Stage(
        "energy_routing.stages.policies",
        (*GRID_KEYS, "supply", "load", "policies", *STUDY_MC_KEYS),
        {"dataset": POLICIES, "part": "results/parts/policies_{scenario}.json"},
    ),
    "routers": Stage(
        "energy_routing.stages.routers",
        (*GRID_KEYS, "supply", "load", "policies", *STUDY_MC_KEYS),
        {"dataset": ROUTERS, "part": "results/parts/routers.json"},
    ),
    "storage": Stage(
        "energy_routing.stages.storage",
        (*GRID_KEYS, "supply", "load", "storage_grid", *STUDY_MC_KEYS),
        {"dataset": STORAGE, "part": "results/parts/storage.json"},
    ),
    # Serving under continuous batching (docs/model.md §14), when serving.activate.
    "serving": Stage(
        "energy_routing.stages.serving",
        (*GRID_KEYS, "supply", "load", "serving", *STUDY_MC_KEYS),
        {
            "dataset": SERVING,
            "regimes": "results/serving/regimes.nc",
            "part": "results/parts/serving.json",
            "regimes_part": "results/parts/serving_regimes.json",
            "routers": "results/serving/routers.nc",
            "routers_part": "results/parts/serving_routers.json",
        },
    ),
    # The real-world studies (docs/model.md §13), when realworld.activate.
    "carbon": Stage(
        "energy_routing.stages.carbon",
        ("carbon",),
        {"part": "results/parts/carbon.json"},
    ),
    "calibration": Stage(
        "energy_routing.stages.calibration",
        (*GRID_KEYS, "montecarlo.t_max", "realworld.sensitivity_factors"),
        {
            "table": "results/tables/calibration.csv",
            "sensitivity": "results/tables/sensitivity.csv",
            "serving_law": "results/tables/serving_law.csv",
            "part": "results/parts/calibration.json",
        },
    ),
    "day_night": Stage(
        "energy_routing.stages.day_night",
        (
            "arrival_rate",
            "dt_s",
            "harvest",
            "montecarlo.seed",
            "montecarlo.chunk_slots",
            "supply.solar",
            "realworld.trials",
            "realworld.horizon_days",
            "realworld.amplitude",
        ),
        {
            "table": "results/realworld/day_night.csv",
            "part": "results/parts/day_night.json",
        },
    ),
    "site_storage": Stage(
        "energy_routing.stages.site_storage",
        (
            "arrival_rate",
            "dt_s",
            "harvest",
            "montecarlo.seed",
            "montecarlo.t_min",
            "montecarlo.checkpoints",
            "montecarlo.chunk_slots",
            "supply.solar",
            "storage_grid.eta_charge",
            "storage_grid.eta_discharge",
            "storage_grid.self_discharge_per_slot",
            "realworld.storage",
        ),
        {"dataset": SITE_STORAGE, "part": "results/parts/site_storage.json"},
    ),
    "site_year": Stage(
        "energy_routing.stages.site_year",
        ("dt_s", "supply", "load", "carbon", "site_year"),
        {"dataset": SITE_YEAR, "part": "results/parts/site_year.json"},
    ),
}

FIGURES: tuple[Figure, ...] = (
    Figure(
        "fig3_costs",
        "fig_costs",
        "figure_costs",
        "Fig. 3: energy and latency per task",
        "1. Models and tasks",
        inputs={"grid_nc": GRID, "fine_nc": FINE},
    ),
    Figure(
        "fig2_deviation",
        "fig_deviation",
        "figure_deviation",
        "Fig. 2: deviation from drift-only scaling",
        "2. Theory",
        sweep_inputs={"mc_points_csv": "results/regimes/deviation_points.csv"},
    ),
    Figure(
        "fig4_growth",
        "fig_growth",
        "figure_growth",
        "Fig. 4: auxiliary energy against horizon",
        "3. Monte Carlo",
        scope="scenario",
        inputs={
            "mc_nc": MC,
            "regimes_csv": "results/regimes/{scenario}.csv",
            "curves_csv": "results/theory/{scenario}.csv",
        },
    ),
    Figure(
        "fig_distribution",
        "fig_distribution",
        "figure_distribution",
        "Distribution of D_T at the horizon",
        "3. Monte Carlo",
        scope="scenario",
        inputs={"mc_nc": MC},
    ),
    Figure(
        "fig_sweep",
        "fig_sweep",
        "figure_sweep",
        "Provisioning sweep: the three regimes",
        "4. Provisioning sweep",
        scope="sweep",
        inputs={"mc_ncs": SWEEP_MC, "sweep_csv": "results/regimes/sweep.csv"},
    ),
    Figure(
        "fig_deferral",
        "fig_deferral",
        "figure_deferral",
        "Slack-aware deferral: auxiliary energy saved and the wait it costs",
        "6. Dispatch policies",
        scope="scenario",
        inputs={"policies_nc": POLICIES},
        readme=False,
        activate="policies",
    ),
    Figure(
        "fig_dpp_frontier",
        "fig_dpp_frontier",
        "figure_dpp_frontier",
        "Drift-plus-penalty: queue against auxiliary energy",
        "6. Dispatch policies",
        scope="scenario",
        inputs={"policies_nc": POLICIES},
        readme=True,
        activate="policies",
    ),
    Figure(
        "fig_variance_aware",
        "fig_variance_aware",
        "figure_variance_aware",
        "Variance-aware routing against the risk weight",
        "6. Dispatch policies",
        scope="scenario",
        inputs={"policies_nc": POLICIES},
        readme=False,
        activate="policies",
    ),
    Figure(
        "fig_routers",
        "fig_routers",
        "figure_routers",
        "Dispatcher overhead: when an accurate router stops paying",
        "6. Dispatch policies",
        inputs={"routers_nc": ROUTERS},
        readme=False,
        activate="policies",
    ),
    Figure(
        "fig_storage_planner",
        "fig_storage_planner",
        "figure_storage_planner",
        "Storage: the planner's chart",
        "7. Storage",
        inputs={"storage_nc": STORAGE},
        readme=True,
        activate="storage_grid",
    ),
    Figure(
        "fig_calibration",
        "fig_calibration",
        "figure_calibration",
        "Energy per output token: modelled here and EcoLogits' estimate",
        "5. Real-world inputs",
        activate="realworld",
        inputs={"calibration_csv": "results/tables/calibration.csv"},
        readme=False,
    ),
    Figure(
        "fig_serving_law",
        "fig_serving_law",
        "figure_serving_law",
        "Serving under continuous batching: energy per token and power against the batch",
        "5. Real-world inputs",
        activate="realworld",
        inputs={"serving_law_csv": "results/tables/serving_law.csv"},
        readme=True,
    ),
    Figure(
        "fig_serving",
        "fig_serving",
        "figure_serving",
        "Serving: energy per task and missed deadlines against the replicas kept powered",
        "8. Serving under continuous batching",
        inputs={"serving_nc": SERVING},
        readme=True,
        activate="serving",
    ),
    Figure(
        "fig_sensitivity",
        "fig_sensitivity",
        "figure_sensitivity",
        "Sensitivity of C_LB and E[D_T] to the energy constants",
        "5. Real-world inputs",
        activate="realworld",
        inputs={
            "sensitivity_csv": "results/tables/sensitivity.csv",
            "calibration_json": "results/parts/calibration.json",
        },
        readme=False,
    ),
    Figure(
        "fig_day_night",
        "fig_day_night",
        "figure_day_night",
        "What the day-night cycle costs, and the storage it needs",
        "5. Real-world inputs",
        activate="realworld",
        inputs={
            "day_night_csv": "results/realworld/day_night.csv",
            "day_night_json": "results/parts/day_night.json",
        },
        readme=True,
    ),
    Figure(
        "fig_site_storage",
        "fig_site_storage",
        "figure_site_storage",
        "How much storage the day-night swing needs at a real site",
        "5. Real-world inputs",
        activate="realworld",
        inputs={"site_storage_json": "results/parts/site_storage.json"},
        readme=True,
    ),
    Figure(
        "fig_site_year",
        "fig_site_year",
        "figure_site_year",
        "A year at three sites: renewable fraction over PV and battery, and the planner's design",
        "5. Real-world inputs",
        activate="site_year",
        inputs={"site_year_json": "results/parts/site_year.json"},
        readme=True,
    ),
    Figure(
        "fig_carbon",
        "fig_carbon",
        "figure_carbon",
        "Carbon of the auxiliary energy",
        "5. Real-world inputs",
        activate="realworld",
        inputs={"carbon_json": "results/parts/carbon.json"},
        readme=False,
    ),
)


def figure(rule: str) -> Figure:
    """The figure a ``fig_*`` rule draws."""
    (fig,) = [f for f in FIGURES if f.rule == rule]
    return fig


def _lookup(cfg: Mapping, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def stage_config(cfg: Mapping, stage: str, **extra) -> str:
    """The config keys a stage reads, as canonical (sorted) JSON.

    Dotted keys keep their nesting (``montecarlo.seed`` -> ``{"montecarlo": {"seed": ..}}``);
    ``extra`` sections are added as given. The string compares equal from run to run, so
    Snakemake's params trigger reruns a stage only when what it reads changes.
    """
    out: dict = {}
    for dotted in STAGES[stage].config:
        *head, last = dotted.split(".")
        node = out
        for part in head:
            node = node.setdefault(part, {})
        node[last] = _lookup(cfg, dotted)
    out.update(extra)
    return json.dumps(out, sort_keys=True)


def _module_file(name: str) -> Path | None:
    """The source file of a package module, or None outside the package."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    if name == PACKAGE:
        return PACKAGE_DIR / "__init__.py"
    rel = Path(*name.split(".")[1:])
    for path in (PACKAGE_DIR / rel / "__init__.py", PACKAGE_DIR / rel.with_suffix(".py")):
        if path.is_file():
            return path
    return None


#: ``if`` tests whose body runs only under a type checker, never at run time.
_TYPING_ONLY = ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _import_nodes(tree: ast.Module, nested: bool):
    """Import statements of a module that can run: all of them, or with ``nested`` false
    those run at import time only (module level, including ``if``/``try`` blocks, not
    inside functions or classes). Imports under ``if TYPE_CHECKING:`` never run."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and ast.unparse(node.test) in _TYPING_ONLY:
            todo.extend(node.orelse)
        elif nested or isinstance(node, ast.If | ast.Try | ast.With | ast.ExceptHandler):
            todo.extend(ast.iter_child_nodes(node))


def _imports(name: str, nested: bool = True) -> set[str]:
    """Package modules that module ``name`` imports directly; with ``nested``, also the
    imports inside its functions (they run when the function does)."""
    path = _module_file(name)
    is_pkg = path is not None and path.name == "__init__.py"
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text()), nested):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        else:
            base = node.module or ""
            if node.level:
                anchor = name if is_pkg else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if _module_file(m) is not None}


def _with_parents(name: str) -> set[str]:
    """A module and the packages above it (importing it runs their ``__init__``)."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def module_closure(module: str, nested: bool = True) -> list[str]:
    """Every package module that ``module`` can run, sorted (found statically): what
    importing it loads, and with ``nested`` also what its functions import when called."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for m in _with_parents(todo.pop()):
            if m not in seen and _module_file(m) is not None:
                seen.add(m)
                todo.extend(_imports(m, nested))
    return sorted(seen)


#: Data files inside the package that a module reads: a rule whose import closure holds the
#: module depends on them as it does on code.
PACKAGE_DATA: dict[str, tuple[str, ...]] = {
    "energy_routing.model.serving": ("model/data/mlenergy_h100.csv",),
}


def code_modules(stage: str) -> list[Path]:
    """Source files a stage's rule depends on: its module's import closure, and the
    package data those modules read (:data:`PACKAGE_DATA`)."""
    closure = module_closure(STAGES[stage].module)
    data = [PACKAGE_DIR / f for m in closure for f in PACKAGE_DATA.get(m, ())]
    return [_module_file(m) for m in closure] + data


def caption_file(fig: Figure) -> str:
    """The caption's path, relative to ``workflow/rules`` (as ``report()`` wants it)."""
    return f"../report/{fig.stem}.rst"
