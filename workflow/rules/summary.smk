rule summary:
    input:
        **summary_parts(),
        code=code("summary"),
    output:
        **out("summary"),
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
        code=code("report"),
        summary=out("summary")["summary"],
        models=out("characterize")["models"],
        tasks=out("characterize")["tasks"],
        figures=figure_outputs_all(),
    output:
        **out("report"),
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/energy-routing.yaml"
    script:
        "../scripts/report.py"
