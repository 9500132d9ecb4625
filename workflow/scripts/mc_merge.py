import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, mc_merge

with common.logged(snakemake.log[0]):
    mc_merge.mc_merge(list(snakemake.input.shards), out=snakemake.output[0])
