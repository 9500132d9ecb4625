# One rule per figure of the registry (energy_routing.stages.registry.FIGURES); each calls
# the plotting function the registry names, with the inputs it lists.
for fig in registry.FIGURES:

    rule:
        name:
            fig.rule
        input:
            **figure_inputs(fig),
            code=code("figures"),
        output:
            report(
                figure_files(fig.filename_stem("{scenario}")),
                caption=registry.caption_file(fig),
                category=fig.category,
                subcategory="{scenario}" if fig.scope == "scenario" else None,
            ),
        log:
            f"results/logs/figures/{fig.filename_stem('{scenario}')}.log",
        benchmark:
            f"results/benchmarks/figures/{fig.filename_stem('{scenario}')}.tsv"
        localrule: True
        conda:
            "../envs/energy-routing.yaml"
        params:
            cfg=stage_config("figures"),
            stem=figure_stem,
            plot=fig.plot,
        script:
            "../scripts/figure.py"
