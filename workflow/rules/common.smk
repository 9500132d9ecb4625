import json

from energy_routing import config as er_config

# Validate (and fill in defaults) before any job is planned: a bad key fails here,
# naming the key and what is allowed.
try:
    CONFIG = er_config.validate(config)
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
}


def stage_config(stage):
    """The config sections of one stage as a canonical JSON string."""
    return json.dumps({k: CONFIG[k] for k in STAGE_KEYS[stage]}, sort_keys=True)


def src(*modules):
    """Package modules a rule depends on: listed as inputs so that editing them reruns it."""
    return [f"src/energy_routing/{m}.py" for m in modules]


FIG_FORMATS = CONFIG["figures"]["formats"]


def figure_files(stem):
    return expand("results/figures/{stem}.{fmt}", stem=stem, fmt=FIG_FORMATS)


def final_outputs():
    return [
        "results/summary.json",
        "results/tables/models.csv",
        "results/tables/tasks.csv",
        *figure_files("fig3_costs"),
        *figure_files("fig2_deviation"),
    ]
