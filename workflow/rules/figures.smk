rule fig_costs:
    input:
        code=src("figures", "atomic", "stages/plot"),
        grid="results/grids/tasks.nc",
        fine="results/grids/difficulty.nc",
    output:
        report(
            figure_files("fig3_costs"),
            caption="../report/fig3_costs.rst",
            category="1. Models and tasks",
        ),
    log:
        "results/logs/fig_costs.log",
    benchmark:
        "results/benchmarks/fig_costs.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("figures"),
        stem=figure_stem,
    script:
        "../scripts/fig_costs.py"


rule fig_deviation:
    input:
        code=src("figures", "theory", "atomic", "stages/plot"),
        points=deviation_points_input(),
    output:
        report(
            figure_files("fig2_deviation"),
            caption="../report/fig2_deviation.rst",
            category="2. Theory",
        ),
    log:
        "results/logs/fig_deviation.log",
    benchmark:
        "results/benchmarks/fig_deviation.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("figures"),
        stem=figure_stem,
    script:
        "../scripts/fig_deviation.py"


rule fig_growth:
    input:
        code=src("figures", "theory", "atomic", "stages/plot"),
        mc="results/mc/{scenario}.nc",
        regimes="results/regimes/{scenario}.csv",
    output:
        report(
            figure_files("fig4_growth_{scenario}"),
            caption="../report/fig4_growth.rst",
            category="3. Monte Carlo",
            subcategory="{scenario}",
        ),
    log:
        "results/logs/fig_growth_{scenario}.log",
    benchmark:
        "results/benchmarks/fig_growth_{scenario}.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("figures"),
        stem=figure_stem,
    script:
        "../scripts/fig_growth.py"


rule fig_distribution:
    input:
        code=src("figures", "theory", "atomic", "stages/plot"),
        mc="results/mc/{scenario}.nc",
    output:
        report(
            figure_files("fig_distribution_{scenario}"),
            caption="../report/fig_distribution.rst",
            category="3. Monte Carlo",
            subcategory="{scenario}",
        ),
    log:
        "results/logs/fig_distribution_{scenario}.log",
    benchmark:
        "results/benchmarks/fig_distribution_{scenario}.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("figures"),
        stem=figure_stem,
    script:
        "../scripts/fig_distribution.py"


rule fig_sweep:
    input:
        code=src("figures", "theory", "atomic", "stages/plot"),
        mc=sweep_files(),
        table="results/regimes/sweep.csv",
    output:
        report(
            figure_files("fig_sweep"),
            caption="../report/fig_sweep.rst",
            category="4. Provisioning sweep",
        ),
    log:
        "results/logs/fig_sweep.log",
    benchmark:
        "results/benchmarks/fig_sweep.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("figures"),
        stem=figure_stem,
        names=list(SWEEP),
    script:
        "../scripts/fig_sweep.py"
