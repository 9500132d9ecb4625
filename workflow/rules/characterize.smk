rule characterize:
    input:
        code=src("grids", "hardware", "capability", "ds3", "config", "stages", "atomic"),
        schema="src/energy_routing/config.schema.yaml",
    output:
        models="results/tables/models.csv",
        tasks="results/tables/tasks.csv",
        grid="results/grids/tasks.nc",
        fine="results/grids/difficulty.nc",
        part="results/parts/grid.json",
    params:
        cfg=stage_config("grid"),
    log:
        "results/logs/characterize.log",
    benchmark:
        "results/benchmarks/characterize.tsv"
    script:
        "../scripts/characterize.py"
