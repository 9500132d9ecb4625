"""The pipeline's stages: validated config and paths in, files out.

The Snakemake scripts under ``workflow/scripts`` are single calls into these modules, so
every stage also runs (and is tested) without Snakemake. One module per stage, so that a
rule depends on (and reruns for) the code of its own stage only:

``characterize``   tables and grids (docs/model.md §1-5)
``simulate``       Monte Carlo shards and their merge (docs/model.md §6-8)
``analyze``        regime fits and the provisioning sweep (docs/model.md §7, 9)
``plot``           figures (docs/model.md §10)
``publish``        summary.json and the reports
"""

from __future__ import annotations

import contextlib
import sys

import xarray as xr

from energy_routing.errors import EnergyRoutingError


@contextlib.contextmanager
def logged(log_path):
    """Send a stage's stderr to its log; state the pipeline's own errors in one line.

    An :class:`~energy_routing.errors.EnergyRoutingError` (bad config, corrupted shard)
    or an :class:`OSError` (disk full, unwritable results) ends the stage with
    ``error: <message>`` as the log's last line and exit status 1; anything else keeps
    its traceback.
    """
    with open(log_path, "w") as log, contextlib.redirect_stderr(log):
        try:
            yield
        except (EnergyRoutingError, OSError) as err:
            # Also on the job's own stderr: with a full disk the log may not take it.
            for stream in (log, sys.__stderr__):
                with contextlib.suppress(OSError):
                    print(f"error: {err}", file=stream, flush=True)
            raise SystemExit(1) from None


def load_dataset(path) -> xr.Dataset:
    """Open a NetCDF file and load it into memory (the file is closed again).

    Times stay numbers: the ``time`` coordinate is a CF time axis in slots (docs/model.md
    §6), which the analysis reads as horizons T, not as dates.
    """
    with xr.open_dataset(path, decode_times=False, decode_timedelta=False) as ds:
        return ds.load()


def with_threads(cfg: dict, threads: int) -> dict:
    """``cfg`` with ``montecarlo.threads`` set (the numbers do not depend on it)."""
    return {**cfg, "montecarlo": {**cfg.get("montecarlo", {}), "threads": int(threads)}}


def write_study(ds: xr.Dataset, cfg: dict, kind: str, title: str, out_nc) -> None:
    """A study's dataset with provenance and CF global attributes, written atomically."""
    from energy_routing.mcio import write_netcdf_atomic
    from energy_routing.provenance import cf_global_attrs, provenance

    history = f"energy-routing: {kind} study computed from the configuration in config_json"
    attrs = {**provenance(cfg), **cf_global_attrs(history, title=title)}
    write_netcdf_atomic(ds.assign_attrs(attrs), out_nc)
