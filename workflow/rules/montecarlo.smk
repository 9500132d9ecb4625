wildcard_constraints:
    scenario=r"[A-Za-z0-9_.-]+",
    eps=r"[0-9.e+-]+",
    start=r"\d+",
    stop=r"\d+",


rule mc_shard:
    input:
        code=code("mc_shard"),
        grid=out("characterize")["grid"],
    output:
        **out("mc_shard"),
    log:
        "results/logs/mc/{scenario}/eps{eps}/trials{start}-{stop}.log",
    benchmark:
        "results/benchmarks/mc/{scenario}/eps{eps}/trials{start}-{stop}.tsv"
    conda:
        "../envs/energy-routing.yaml"
    threads: CONFIG["montecarlo"]["threads"]
    resources:
        mem_mb=shard_mem_mb,
        runtime=shard_runtime_min,
        cpus_per_task=MC["threads"],
    params:
        cfg=shard_config,
    script:
        "../scripts/mc_shard.py"


rule mc_merge:
    input:
        code=code("mc_merge"),
        shards=lambda w: shard_files(w.scenario),
    output:
        **out("mc_merge"),
    log:
        "results/logs/mc/{scenario}/merge.log",
    benchmark:
        "results/benchmarks/mc/{scenario}/merge.tsv"
    conda:
        "../envs/energy-routing.yaml"
    resources:
        mem_mb=merge_mem_mb,
    script:
        "../scripts/mc_merge.py"
