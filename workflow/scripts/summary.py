import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import publish

with stages.logged(snakemake.log[0]):
    parts = {k: v for k, v in snakemake.input.items() if k != "code"}
    publish.summary(parts, snakemake.output[0])
