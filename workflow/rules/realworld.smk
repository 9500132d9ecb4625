# The real-world studies (docs/model.md §13), when realworld.activate: carbon of the
# auxiliary energy, calibration against EcoLogits with its sensitivity, and the day-night
# study at a real site.


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
    params:
        cfg=stage_config("day_night"),
    script:
        "../scripts/day_night.py"
