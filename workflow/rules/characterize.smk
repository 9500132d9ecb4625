rule characterize:
    input:
        code=src("grids", "hardware", "capability", "ds3", "config", "stages", "atomic"),
        schema=SRC_DIR / "config.schema.yaml",
    output:
        models="results/tables/models.csv",
        tasks="results/tables/tasks.csv",
        grid="results/grids/tasks.nc",
        fine="results/grids/difficulty.nc",
        part="results/parts/grid.json",
    log:
        "results/logs/characterize.log",
    benchmark:
        "results/benchmarks/characterize.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("grid"),
    script:
        "../scripts/characterize.py"
