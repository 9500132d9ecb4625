rule characterize:
    input:
        code=code("characterize"),
    output:
        **out("characterize"),
    log:
        "results/logs/characterize.log",
    benchmark:
        "results/benchmarks/characterize.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("characterize"),
    script:
        "../scripts/characterize.py"
