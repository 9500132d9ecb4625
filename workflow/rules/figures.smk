rule fig_costs:
    input:
        code=src("figures", "stages", "atomic"),
        grid="results/grids/tasks.nc",
        fine="results/grids/difficulty.nc",
    output:
        figure_files("fig3_costs"),
    params:
        cfg=stage_config("figures"),
        stem="results/figures/fig3_costs",
    log:
        "results/logs/fig_costs.log",
    benchmark:
        "results/benchmarks/fig_costs.tsv"
    script:
        "../scripts/fig_costs.py"


rule fig_deviation:
    input:
        code=src("figures", "theory", "stages", "atomic"),
    output:
        figure_files("fig2_deviation"),
    params:
        cfg=stage_config("figures"),
        stem="results/figures/fig2_deviation",
    log:
        "results/logs/fig_deviation.log",
    benchmark:
        "results/benchmarks/fig_deviation.tsv"
    script:
        "../scripts/fig_deviation.py"
