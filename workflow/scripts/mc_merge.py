import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import simulate

with stages.logged(snakemake.log[0]):
    simulate.mc_merge(list(snakemake.input.shards), out=snakemake.output[0])
