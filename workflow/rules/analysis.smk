rule regimes:
    input:
        code=src("analysis", "regimes", "theory", "atomic", "stages/analyze"),
        mc="results/mc/{scenario}.nc",
        grid="results/grids/tasks.nc",
    output:
        table="results/regimes/{scenario}.csv",
        part="results/parts/regimes_{scenario}.json",
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
        code=src("analysis", "regimes", "theory", "atomic", "stages/analyze"),
        mc=sweep_files(),
    output:
        table="results/regimes/sweep.csv",
        points="results/regimes/deviation_points.csv",
        part="results/parts/sweep.json",
    log:
        "results/logs/regimes/sweep.log",
    benchmark:
        "results/benchmarks/regimes/sweep.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("regimes"),
        names=list(SWEEP),
    script:
        "../scripts/sweep.py"
