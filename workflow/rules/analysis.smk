rule regimes:
    input:
        code=code("regimes"),
        mc=registry.MC,
        grid=out("characterize")["grid"],
    output:
        **out("regimes"),
    log:
        "results/logs/regimes/{scenario}.log",
    benchmark:
        "results/benchmarks/regimes/{scenario}.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("regimes"),
    script:
        "../scripts/regimes.py"


rule sweep:
    input:
        code=code("sweep"),
        mc=sweep_files(),
        grid=out("characterize")["grid"],
    output:
        **out("sweep"),
    log:
        "results/logs/regimes/sweep.log",
    benchmark:
        "results/benchmarks/regimes/sweep.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("sweep"),
    script:
        "../scripts/sweep.py"
