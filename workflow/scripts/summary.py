import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115

from energy_routing import stages  # noqa: E402

parts = {k: v for k, v in snakemake.input.items() if k != "code"}
stages.summary(parts, snakemake.output[0])
