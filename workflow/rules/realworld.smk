# The real-world studies (docs/model.md §13), when realworld.activate: carbon of the
# auxiliary energy, calibration against EcoLogits with its sensitivity, the day-night
# study at a real site and the storage grid there; and, when site_year.activate, a year at
# each site with the planner's PV x battery grid (docs/model.md §15).


rule carbon:
    input:
        code=code("carbon"),
        regimes=regimes_parts(),
    output:
        **out("carbon"),
    log:
        "results/logs/realworld/carbon.log",
    benchmark:
        "results/benchmarks/realworld/carbon.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("carbon"),
        scenarios=NAMED,
    script:
        "../scripts/carbon.py"


rule calibration:
    input:
        code=code("calibration"),
    output:
        **out("calibration"),
    log:
        "results/logs/realworld/calibration.log",
    benchmark:
        "results/benchmarks/realworld/calibration.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("calibration"),
    script:
        "../scripts/calibration.py"


rule day_night:
    input:
        code=code("day_night"),
        grid=out("characterize")["grid"],
    output:
        **out("day_night"),
    log:
        "results/logs/realworld/day_night.log",
    benchmark:
        "results/benchmarks/realworld/day_night.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: MC["threads"]
    params:
        cfg=stage_config("day_night"),
    script:
        "../scripts/day_night.py"


rule site_storage:
    input:
        code=code("site_storage"),
        grid=out("characterize")["grid"],
    output:
        **out("site_storage"),
    log:
        "results/logs/realworld/site_storage.log",
    benchmark:
        "results/benchmarks/realworld/site_storage.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: MC["threads"]
    params:
        cfg=stage_config("site_storage"),
    script:
        "../scripts/site_storage.py"


rule site_year:
    input:
        code=code("site_year"),
        grid=out("characterize")["grid"],
    output:
        **out("site_year"),
    log:
        "results/logs/realworld/site_year.log",
    benchmark:
        "results/benchmarks/realworld/site_year.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: 1
    params:
        cfg=stage_config("site_year"),
    script:
        "../scripts/site_year.py"
