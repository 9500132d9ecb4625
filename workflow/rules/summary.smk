rule summary:
    input:
        code=src("stages", "atomic"),
        grid="results/parts/grid.json",
    output:
        "results/summary.json",
    log:
        "results/logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    script:
        "../scripts/summary.py"
