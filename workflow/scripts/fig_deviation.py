import json
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115

from energy_routing import stages  # noqa: E402

stages.figure_deviation(json.loads(snakemake.params.cfg)["figures"], stem=snakemake.params.stem)
