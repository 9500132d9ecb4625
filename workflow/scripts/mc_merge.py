import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages

with stages.logged(snakemake.log[0]):
    stages.mc_merge(list(snakemake.input.shards), out=snakemake.output[0])
