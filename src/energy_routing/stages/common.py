"""Helpers the stages share: logging, loading datasets, threads and writing studies.

:func:`logged` sends a stage's stderr to its log and ends the stage with a one-line
``error: ...`` and exit status 1 on the pipeline's own errors (bad config, corrupted shard,
full disk); :func:`load_dataset` reads a NetCDF file into memory with ``time`` kept in
slots; :func:`with_threads` sets ``montecarlo.threads`` (the numbers do not depend on it);
:func:`write_study` writes a study's dataset atomically with provenance and CF global
attributes; :func:`records` turns a frame into JSON-ready rows (NaN -> None).
"""

from __future__ import annotations

import contextlib
import json
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
    §6), which the analysis reads as horizons T, not as dates. Dimensions stored as
    integers with a ``<dim>_label`` coordinate get their names back
    (:func:`energy_routing.io.netcdf.load_netcdf`).
    """
    from energy_routing.io.netcdf import load_netcdf

    return load_netcdf(path)


def with_threads(cfg: dict, threads: int) -> dict:
    """``cfg`` with ``montecarlo.threads`` set (the numbers do not depend on it)."""
    return {**cfg, "montecarlo": {**cfg.get("montecarlo", {}), "threads": int(threads)}}


def write_study(ds: xr.Dataset, cfg: dict, kind: str, title: str, out_nc) -> None:
    """A study's dataset with provenance and CF global attributes, written atomically."""
    from energy_routing.io.netcdf import write_netcdf_atomic
    from energy_routing.io.provenance import cf_global_attrs, provenance

    history = f"energy-routing: {kind} study computed from the configuration in config_json"
    attrs = {**provenance(cfg), **cf_global_attrs(history, title=title)}
    write_netcdf_atomic(ds.assign_attrs(attrs), out_nc)


def records(df) -> list[dict]:
    """Rows as JSON-ready dicts (NaN -> None)."""
    return json.loads(df.to_json(orient="records"))
