import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages

stages.mc_merge(list(snakemake.input.shards), out=snakemake.output[0])
