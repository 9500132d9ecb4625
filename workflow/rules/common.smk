import json
import os
import sys
from pathlib import Path

# The workflow runs its own copy of the package, as its scripts do (not whichever one is
# installed), so that the code a rule depends on is the code it runs.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from energy_routing import config as er_config
from energy_routing.model import grids as er_grids
from energy_routing.replay import archive as er_archive
from energy_routing.stages import registry

# Validate (and fill in defaults) before any job is planned: a bad key fails here,
# naming the key and what is allowed.
try:
    # Every config file read again strictly, in Snakemake's merge order (the Snakefile's
    # own, then each --configfile): a key given twice in one fails here, naming the file
    # and the key (YAML, and so Snakemake, would keep the last silently), and a hardware
    # constant is told apart from one that an accelerator of a later file replaces.
    USER_CONFIGFILES = [Path(p) for p in workflow.overwrite_configfiles or []]
    LAYERS = er_config.read_layers(
        [Path(p) for p in workflow.configfiles if Path(p) not in USER_CONFIGFILES]
        + USER_CONFIGFILES
    )
    CONFIG = er_config.validate(config, layers=LAYERS)
    # A task no model serves in time, or a budget over the cap, fails here too.
    er_grids.task_grid(CONFIG)
except er_config.ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None


def stage_config(stage, **extra):
    """The config keys a stage reads (the registry's list), as canonical JSON: a change
    elsewhere in the config does not rerun it, and the string compares equal from run to
    run."""
    return registry.stage_config(CONFIG, stage, **extra)


def code(stage):
    """The package modules a stage imports (transitively), as inputs: editing one reruns
    the rule (Snakemake's code trigger sees only the script, not what it imports). Paths
    are relative to the working directory, so a moved checkout plans nothing."""
    return [os.path.relpath(p) for p in registry.code_modules(stage)]


def out(stage):
    """A stage's named outputs, from the registry."""
    return registry.STAGES[stage].outputs


SCENARIOS = er_config.scenarios(CONFIG)
# `snakemake archive` packs the results with the config file of this run.
CONFIGFILE = (workflow.overwrite_configfiles or ["config/config.yaml"])[-1]
ARCHIVE = er_archive.default_name("energy-routing")
MC = CONFIG["montecarlo"]


def eps_label(eps):
    """A routing error as it appears in file names (``0.05`` -> ``0.05``)."""
    return f"{float(eps):g}"


def shard_ranges(scenario):
    """Trial ranges ``(start, stop)`` of a scenario's shards."""
    n, per = SCENARIOS[scenario]["trials"], MC["trials_per_shard"]
    return [(s, min(s + per, n)) for s in range(0, n, per)]


def shard_files(scenario):
    return [
        f"results/mc/shards/{scenario}/eps{eps_label(e)}/trials{a}-{b}.nc"
        for e in SCENARIOS[scenario]["routing_errors"]
        for a, b in shard_ranges(scenario)
    ]


def shard_config(wildcards):
    """What shapes a shard's numbers, and nothing else: the number of trials, the shard
    size, the thread count and the other routing errors do not, so changing them keeps
    the shards already computed."""
    sc = SCENARIOS[wildcards.scenario]
    return stage_config(
        "mc_shard", scenario={"provisioning": sc["provisioning"], "t_max": sc["t_max"]}
    )


def shard_resources(wildcards):
    from energy_routing.stages.resources import job_resources

    n = int(wildcards.stop) - int(wildcards.start)
    return job_resources(CONFIG, wildcards.scenario, n)


def shard_mem_mb(wildcards):
    return shard_resources(wildcards)["shard_mem_mb"]


def shard_runtime_min(wildcards):
    return shard_resources(wildcards)["shard_runtime_min"]


def merge_mem_mb(wildcards):
    from energy_routing.stages.resources import job_resources

    return job_resources(CONFIG, wildcards.scenario)["merge_mem_mb"]


FIG_FORMATS = CONFIG["figures"]["formats"]
SWEEP = [name for name in SCENARIOS if name.startswith("sweep_")]
NAMED = [name for name in SCENARIOS if not name.startswith("sweep_")]
# The real-world studies (docs/model.md §13) run unless realworld.activate is false.
REALWORLD = CONFIG["realworld"]["activate"]


def figure_stem(wildcards, output):
    """A figure's path without its format suffix."""
    return str(Path(output[0]).with_suffix(""))


def figure_files(stem):
    return expand("results/figures/{stem}.{fmt}", stem=stem, fmt=FIG_FORMATS)


def figure_inputs(fig):
    """A figure's inputs by keyword, with ``{sweep}`` expanded over the sweep scenarios;
    its sweep-only inputs when the sweep runs."""
    items = dict(fig.inputs, **(fig.sweep_inputs if SWEEP else {}))
    return {
        k: expand(v, sweep=SWEEP) if "{sweep}" in v else v for k, v in items.items()
    }


def figure_outputs(fig):
    """Every file a figure writes, for ``rule all`` (none for the sweep without one)."""
    if fig.activate and not CONFIG[fig.activate]["activate"]:
        return []
    if fig.scope == "scenario":
        return [f for n in NAMED for f in figure_files(fig.filename_stem(n))]
    if fig.scope == "sweep" and not SWEEP:
        return []
    return figure_files(fig.stem)


def sweep_files():
    return [f"results/mc/{name}.nc" for name in SWEEP]


def summary_parts():
    """The JSON parts merged into results/summary.json, by key."""
    parts = {"grid": out("characterize")["part"]}
    part = out("regimes")["part"]
    parts.update({f"regimes_{n}": part.format(scenario=n) for n in NAMED})
    # Lists: every named scenario's policy records land in the top-level list "policies".
    if CONFIG["policies"]["activate"]:
        part = out("policies")["part"]
        parts.update({f"policies_{n}": part.format(scenario=n) for n in NAMED})
        parts["routers"] = out("routers")["part"]
    if CONFIG["storage_grid"]["activate"]:
        parts["storage"] = out("storage")["part"]
    if CONFIG["serving"]["activate"]:
        parts["serving"] = out("serving")["part"]
        parts["serving_regimes"] = out("serving")["regimes_part"]
        parts["serving_routers"] = out("serving")["routers_part"]
    if SWEEP:
        parts["sweep"] = out("sweep")["part"]
    if REALWORLD:
        for stage in ("carbon", "calibration", "day_night", "site_storage"):
            parts[stage] = out(stage)["part"]
    if CONFIG["site_year"]["activate"]:
        parts["site_year"] = out("site_year")["part"]
    return parts


def regimes_parts():
    """The regimes parts of the named scenarios, in order (the carbon stage's inputs)."""
    return [out("regimes")["part"].format(scenario=n) for n in NAMED]


def realworld_tables():
    """The real-world studies' tables, when they run."""
    if not REALWORLD:
        return []
    return [
        out("calibration")["table"],
        out("calibration")["sensitivity"],
        out("calibration")["serving_law"],
        out("day_night")["table"],
    ]


def archived_outputs():
    """What `snakemake archive` packs: the final outputs and the data behind them."""
    data = [
        out("characterize")["grid"],
        out("characterize")["fine"],
        *[registry.MC.format(scenario=name) for name in SCENARIOS],
    ]
    if SWEEP:
        data += [out("sweep")["table"], out("sweep")["points"]]
    if CONFIG["policies"]["activate"]:
        data += [out("policies")["dataset"].format(scenario=n) for n in NAMED]
        data.append(out("routers")["dataset"])
    if CONFIG["storage_grid"]["activate"]:
        data.append(out("storage")["dataset"])
    if CONFIG["serving"]["activate"]:
        data += [out("serving")[k] for k in ("dataset", "regimes", "routers")]
    if REALWORLD:
        data.append(out("site_storage")["dataset"])
    if CONFIG["site_year"]["activate"]:
        data.append(out("site_year")["dataset"])
    return final_outputs() + [f for f in data if f not in final_outputs()]


def figure_outputs_all():
    return [f for fig in registry.FIGURES for f in figure_outputs(fig)]


def final_outputs():
    return [
        out("summary")["summary"],
        *out("report").values(),
        out("characterize")["models"],
        out("characterize")["tasks"],
        *figure_outputs_all(),
        *[out("regimes")["table"].format(scenario=n) for n in NAMED],
        *realworld_tables(),
    ]


# Everything but the Monte Carlo shards is light: on a cluster it runs where Snakemake runs
# (the figure rules say so themselves, in workflow/rules/figures.smk).
localrules:
    all,
    characterize,
    mc_merge,
    regimes,
    sweep,
    carbon,
    calibration,
    summary,
    report,
