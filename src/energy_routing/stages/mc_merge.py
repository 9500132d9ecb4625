"""Stage ``mc_merge``: a scenario's shards checked and merged into one dataset with the
mean, standard deviation and standard error of D_t over trials, and provenance
(docs/model.md §6).
"""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing.io import netcdf
from energy_routing.io.netcdf import write_netcdf_atomic
from energy_routing.io.provenance import git_revision, package_versions


def mc_merge(shards: list[str], *, out) -> None:
    """Stage 3: merge a scenario's shards, add D_t statistics and provenance."""

    ds = netcdf.merge_shards(shards)
    ds.attrs.update(
        package_versions_json=json.dumps(package_versions(), sort_keys=True),
        git_revision=git_revision(Path(__file__).parent),
    )
    write_netcdf_atomic(ds, out)
