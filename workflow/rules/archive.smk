rule archive:
    input:
        code=code("archive"),
        results=archived_outputs(),
    output:
        ARCHIVE,
    log:
        "results/logs/archive.log",
    conda:
        "../envs/energy-routing.yaml"
    params:
        config=CONFIGFILE,
    script:
        "../scripts/archive.py"
