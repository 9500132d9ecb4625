import json
from pathlib import Path

from energy_routing import config as er_config
from energy_routing import grids as er_grids
from energy_routing import archive as er_archive

# Validate (and fill in defaults) before any job is planned: a bad key fails here,
# naming the key and what is allowed.
try:
    CONFIG = er_config.validate(config)
    # A task no model serves in time, or a budget over the cap, fails here too.
    er_grids.task_grid(CONFIG)
except er_config.ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

# The config sections each stage reads. A rule passes exactly these, as a sorted JSON
# string, in its params: a change elsewhere in the config does not rerun it, and the
# string compares equal from run to run.
STAGE_KEYS = {
    "grid": [
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
    ],
    "figures": ["figures"],
    "regimes": ["regimes", "reserve_quantiles"],
}


def stage_config(stage):
    """The config sections of one stage as a canonical JSON string."""
    return json.dumps({k: CONFIG[k] for k in STAGE_KEYS[stage]}, sort_keys=True)


def src(*modules):
    """Package modules a rule depends on, listed as inputs so that editing one reruns
    the rule (Snakemake's code trigger sees only the script, not what it imports). The
    stage harness (logging, errors) is shared by every rule."""
    names = [*modules, "stages/__init__", "errors"]
    return [str(SRC_DIR / f"{m}.py") for m in names]


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
    return json.dumps(
        {
            "montecarlo": {
                k: MC[k] for k in ("seed", "t_min", "checkpoints", "chunk_slots")
            },
            "scenario": {"provisioning": sc["provisioning"], "t_max": sc["t_max"]},
            "arrival_rate": CONFIG["arrival_rate"],
            "harvest": CONFIG["harvest"],
        },
        sort_keys=True,
    )


def shard_mem_mb(wildcards):
    from energy_routing.plan import shard_memory_mb

    n = int(wildcards.stop) - int(wildcards.start)
    return shard_memory_mb(n, MC["checkpoints"], MC["chunk_slots"], MC["threads"])


def shard_runtime_min(wildcards):
    from energy_routing.plan import shard_runtime_minutes

    n = int(wildcards.stop) - int(wildcards.start)
    return shard_runtime_minutes(
        n, SCENARIOS[wildcards.scenario]["t_max"], MC["threads"]
    )


def merge_mem_mb(wildcards):
    from energy_routing.plan import merge_memory_mb

    sc = SCENARIOS[wildcards.scenario]
    return merge_memory_mb(sc["trials"], len(sc["routing_errors"]), MC["checkpoints"])


SRC_DIR = Path(workflow.basedir) / "src" / "energy_routing"
FIG_FORMATS = CONFIG["figures"]["formats"]


def figure_stem(wildcards, output):
    """A figure's path without its format suffix."""
    return str(Path(output[0]).with_suffix(""))


def figure_files(stem):
    return expand("results/figures/{stem}.{fmt}", stem=stem, fmt=FIG_FORMATS)


SWEEP = [name for name in SCENARIOS if name.startswith("sweep_")]
NAMED = [name for name in SCENARIOS if not name.startswith("sweep_")]


def sweep_files():
    return [f"results/mc/{name}.nc" for name in SWEEP]


def deviation_points_input():
    """Fig. 2 gets Monte Carlo points when the sweep runs."""
    return ["results/regimes/deviation_points.csv"] if SWEEP else []


def summary_parts():
    """The JSON parts merged into results/summary.json, by key."""
    parts = {"grid": "results/parts/grid.json"}
    parts.update({f"regimes_{n}": f"results/parts/regimes_{n}.json" for n in NAMED})
    if SWEEP:
        parts["sweep"] = "results/parts/sweep.json"
    return parts


def archived_outputs():
    """What `snakemake archive` packs: the final outputs and the data behind them."""
    data = [
        "results/grids/tasks.nc",
        "results/grids/difficulty.nc",
        *[f"results/mc/{name}.nc" for name in SCENARIOS],
        *[f"results/regimes/{name}.csv" for name in NAMED],
    ]
    if SWEEP:
        data += ["results/regimes/sweep.csv", "results/regimes/deviation_points.csv"]
    return final_outputs() + [f for f in data if f not in final_outputs()]


def final_outputs():
    out = [
        "results/summary.json",
        "results/report.html",
        "results/report.md",
        "results/tables/models.csv",
        "results/tables/tasks.csv",
        *figure_files("fig3_costs"),
        *figure_files("fig2_deviation"),
    ]
    for name in NAMED:
        out += figure_files(f"fig4_growth_{name}")
        out += figure_files(f"fig_distribution_{name}")
        out.append(f"results/regimes/{name}.csv")
    if SWEEP:
        out += figure_files("fig_sweep")
    return out


# Everything but the Monte Carlo shards is light: on a cluster it runs where Snakemake runs.
localrules:
    all,
    characterize,
    mc_merge,
    regimes,
    sweep,
    fig_costs,
    fig_deviation,
    fig_growth,
    fig_distribution,
    fig_sweep,
    summary,
    report,
