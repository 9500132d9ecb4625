import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, summary

with common.logged(snakemake.log[0]):
    parts = {k: v for k, v in snakemake.input.items() if k != "code"}
    summary.summary(parts, snakemake.output[0])
