rule summary:
    input:
        **summary_parts(),
        code=src("atomic", "stages/publish"),
    output:
        "results/summary.json",
    log:
        "results/logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    conda:
        "../envs/energy-routing.yaml"
    script:
        "../scripts/summary.py"


rule report:
    input:
        code=src("report", "atomic", "stages/publish"),
        summary="results/summary.json",
        models="results/tables/models.csv",
        tasks="results/tables/tasks.csv",
        figures=[f for f in final_outputs() if f.startswith("results/figures/")],
    output:
        html="results/report.html",
        md="results/report.md",
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/energy-routing.yaml"
    script:
        "../scripts/report.py"
