# energy-routing: energy-aware routing to large reasoning models (arXiv:2601.00823).
# A table of contents: the config, one rule file per stage, and the final targets.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/characterize.smk"
include: "workflow/rules/montecarlo.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/policies.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/realworld.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/archive.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
