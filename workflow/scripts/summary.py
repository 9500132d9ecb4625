import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages

parts = {k: v for k, v in snakemake.input.items() if k != "code"}
stages.summary(parts, snakemake.output[0])
