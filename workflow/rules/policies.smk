# Dispatch policies, dispatchers and the storage grid (docs/model.md §12). Each runs only
# when its config section is active (policies.activate, storage_grid.activate): the final
# targets, the summary and the report ask for them then.


rule policies:
    input:
        code=code("policies"),
        grid=out("characterize")["grid"],
    output:
        **out("policies"),
    log:
        "results/logs/policies/{scenario}.log",
    benchmark:
        "results/benchmarks/policies/{scenario}.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: MC["threads"]
    params:
        # The scenario's provisioning (the study runs on its random streams); the other
        # scenarios do not rerun it.
        cfg=lambda w: stage_config(
            "policies",
            scenarios={
                w.scenario: {"provisioning": SCENARIOS[w.scenario]["provisioning"]}
            },
        ),
    script:
        "../scripts/policies.py"


rule routers:
    input:
        code=code("routers"),
        grid=out("characterize")["grid"],
    output:
        **out("routers"),
    log:
        "results/logs/policies/routers.log",
    benchmark:
        "results/benchmarks/policies/routers.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: MC["threads"]
    params:
        cfg=stage_config("routers"),
    script:
        "../scripts/routers.py"


rule storage:
    input:
        code=code("storage"),
        grid=out("characterize")["grid"],
    output:
        **out("storage"),
    log:
        "results/logs/storage/grid.log",
    benchmark:
        "results/benchmarks/storage/grid.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: MC["threads"]
    params:
        cfg=stage_config("storage"),
    script:
        "../scripts/storage.py"


rule serving:
    input:
        code=code("serving"),
        grid=out("characterize")["grid"],
    output:
        **out("serving"),
    log:
        "results/logs/serving/serving.log",
    benchmark:
        "results/benchmarks/serving/serving.tsv"
    conda:
        "../envs/energy-routing.yaml"
    params:
        cfg=stage_config("serving"),
    script:
        "../scripts/serving.py"
