"""Monte Carlo results as labelled datasets, NetCDF shards and their merge (docs/model.md §6-9).

The data path is: :func:`energy_routing.engine.driver.simulate` -> :func:`result_to_dataset`
-> :func:`write_netcdf_atomic` (one shard per routing error and trial range) ->
:func:`merge_shards` (one dataset with summary statistics of D_t across trials) ->
regime fits and figures.

Every shard carries a SHA-256 digest of its data in the attribute ``data_sha256``;
:func:`open_checked` verifies it and reports an unreadable, truncated or altered file as a
:class:`CorruptShardError` naming the file. The digest is removed from the attributes once
verified (it describes a file, not the data set), so datasets built from different
shardings of the same trials compare identical. No wall-clock timestamps are stored.

Units and CF conventions
------------------------
The files follow CF-1.11 (checked by ``tests/io/test_cf_compliance.py`` with the IOOS
compliance checker): global ``Conventions``, ``title``, ``institution``, ``source``,
``references`` and a timestamp-free ``history``
(:func:`energy_routing.io.provenance.cf_global_attrs`);
``units`` in UDUNITS syntax and a ``long_name`` on every variable; no ``_FillValue`` on
coordinates or on variables without missing values (:func:`write_netcdf_atomic`).

The model runs in discrete time: one step is a slot of ``dt_s`` seconds (docs/model.md
§5). A quantity "per slot" is a quantity per step, and a step count has unit 1, so

* drift per slot mu, realised drift B_T / T: ``J`` (energy gained in one slot);
* variance of the per-slot increment: ``J2`` (J^2); volatility sigma "per square root
  of a slot" (the standard deviation of one slot's increment): ``J``;
* counts (tasks, trials, slots): ``1``.

The ``long_name`` keeps the "per slot" reading. Watts would need the values divided by
``dt_s``, which would change the numbers whenever ``dt_s != 1``; the values stay in the
units the engine and the analysis use.

The ``time`` coordinate holds the checkpoint t in slots (int64); the analysis reads it as
T in slots, so its values never change. CF identifies a coordinate named ``time`` as a
time coordinate (§4.4), which needs ``<unit> since <reference>`` units, a calendar and
``standard_name = "time"`` (§5.1). Given the slot length (``dt_s`` of
:func:`result_to_dataset`) the coordinate gets exactly that, with the slot as the unit of
time so that the values stay slot counts: units ``"s since 1970-01-01 00:00:00"`` when a
slot lasts 1 s (likewise ``ms``, ``min``, ``h``, ``d``), else ``"<dt_s> s since ..."``
(valid UDUNITS, though xarray cannot decode it), calendar ``proleptic_gregorian``,
``axis = "T"``; the reference date only marks the start of the simulation (t = 0) and has
no meaning of its own. xarray decodes such a coordinate to datetimes unless the file is
opened with ``decode_times=False``, as :func:`open_checked` does; readers that need T in
slots must do the same. Without ``dt_s`` the slot length is unknown and ``time`` is
labelled as a plain slot count (units ``1``), which is valid UDUNITS but not a CF time
coordinate.

Named dimensions on disk
------------------------
A CF coordinate variable is numeric, so a dimension named by strings in memory (``model``,
``policy``, ``consumption``, ...) is written as an integer dimension with the names in the
string coordinate ``<dim>_label``, and read back with its names
(:mod:`energy_routing.io.labels`). :func:`write_netcdf_atomic` encodes; :func:`load_netcdf`
and :func:`open_checked`, the readers every stage uses, decode. The checksum covers the
named dataset.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from energy_routing import __version__
from energy_routing.errors import EnergyRoutingError
from energy_routing.io.atomic import atomic_output
from energy_routing.io.labels import decode_labels, encode_labels
from energy_routing.io.provenance import cf_global_attrs

if TYPE_CHECKING:
    from energy_routing.engine.driver import SimulationResult

#: Dataset attribute holding the SHA-256 of the data in a written shard.
CHECKSUM_ATTR = "data_sha256"

_ENGINE_ATTRS = ("root_seed", "scenario_key", "chunk_slots")

_TITLE = "energy-routing Monte Carlo: battery B_t, deficit D_t and auxiliary injection A_t"
_HISTORY = (
    f"energy-routing {__version__}: engine.driver.simulate (trials seeded by root_seed and "
    "scenario_key), labelled by io.netcdf.result_to_dataset"
)
_MERGED_TITLE = f"{_TITLE}, with the mean, std and sem of D_t over trials"
_MERGE_HISTORY = (
    f"energy-routing {__version__}: io.netcdf.merge_shards (shards concatenated along trial and "
    "routing_error; deficit_mean_J, deficit_std_J and deficit_sem_J added)"
)

#: Reference time of the ``time`` coordinate: the start of the simulation (t = 0).
TIME_REFERENCE = "1970-01-01 00:00:00"

# Slot lengths [s] with a UDUNITS name that xarray also decodes.
_NAMED_SLOTS = {1e-3: "ms", 1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "d"}


class CorruptShardError(EnergyRoutingError):
    """A NetCDF shard cannot be read, is truncated, or its data fail the checksum."""


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def time_attrs(dt_s: float | None) -> dict[str, str]:
    """Attributes of the ``time`` coordinate, whose values are checkpoints t [slot].

    Parameters
    ----------
    dt_s : float or None
        Length of one slot [s]. None: unknown, ``time`` is labelled as a slot count.

    Returns
    -------
    dict of str
        ``units``, ``long_name`` and, given ``dt_s``, the CF time-coordinate attributes
        ``standard_name``, ``axis``, ``calendar``, ``units_metadata`` and ``comment``
        (see the module docstring).

    Examples
    --------
    >>> time_attrs(1.0)["units"]
    's since 1970-01-01 00:00:00'
    >>> time_attrs(0.5)["units"]
    '0.5 s since 1970-01-01 00:00:00'
    >>> time_attrs(60)["units"]
    'min since 1970-01-01 00:00:00'
    >>> time_attrs(None)["units"]
    '1'
    """
    long_name = "checkpoint t (slots since the start, B_0 at t = 0)"
    if dt_s is None:
        return _attrs("1", long_name)
    dt_s = float(dt_s)
    if not (np.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"dt_s: the slot length must be a positive number of seconds, not {dt_s}")
    scale = _NAMED_SLOTS.get(dt_s, f"{dt_s!r} s")
    return {
        "units": f"{scale} since {TIME_REFERENCE}",
        "long_name": long_name,
        "standard_name": "time",
        "axis": "T",
        "calendar": "proleptic_gregorian",
        "units_metadata": "leap_seconds: none",
        "comment": (
            f"values count slots of {dt_s!r} s; the reference date stands for the start of "
            "the simulation (t = 0) and has no meaning of its own"
        ),
    }


def result_to_dataset(
    result: SimulationResult,
    *,
    routing_error: float,
    mu: float,
    sigma: float,
    attrs: Mapping[str, object],
    dt_s: float | None = None,
) -> xr.Dataset:
    """Label one simulation's records as a dataset (docs/model.md §6-8).

    Parameters
    ----------
    result : SimulationResult
        Output of :func:`energy_routing.engine.driver.simulate`.
    routing_error : float
        epsilon of the run [1]; must equal ``result.routing_error``.
    mu : float
        Analytic drift of the policy [J/slot] (Lemma 2).
    sigma : float
        Analytic volatility of the policy [J/sqrt(slot)] (Lemma 2).
    attrs : mapping
        Provenance (configuration, seeds, versions, git revision) to store as dataset
        attributes; values must be NetCDF-compatible (str, numbers, 1-D numeric arrays).
        The engine's ``root_seed``, ``scenario_key`` and ``chunk_slots`` are added, and
        the CF global attributes (``Conventions``, ``title``, ``history``, ...) unless
        ``attrs`` sets them.
    dt_s : float, optional
        Length of one slot [s] (the grid's ``dt_s``). Given, ``time`` becomes a CF time
        coordinate (see the module docstring); its values stay slot counts either way.

    Returns
    -------
    xarray.Dataset
        Dimensions ``routing_error`` (1), ``consumption``, ``trial``, ``time``,
        ``task_type``, ``model``; every variable has ``units`` and ``long_name``.
    """
    if float(routing_error) != result.routing_error:
        raise ValueError(
            f"routing_error: {routing_error!r} differs from the result's {result.routing_error!r}"
        )
    merged_attrs = {**cf_global_attrs(_HISTORY, title=_TITLE), **attrs}
    for name in _ENGINE_ATTRS:
        value = int(getattr(result, name))
        if name in merged_attrs and merged_attrs[name] != value:
            raise ValueError(
                f"attrs: {name}={merged_attrs[name]!r} contradicts the result's {value}"
            )
        merged_attrs[name] = value
    merged_attrs.pop(CHECKSUM_ATTR, None)

    per_path = ("routing_error", "consumption", "trial", "time")
    per_trial = ("routing_error", "consumption", "trial")
    n_types, n_models = result.task_counts.shape[1:]
    coords = {
        "routing_error": (
            "routing_error",
            np.array([float(routing_error)]),
            _attrs("1", "routing error epsilon (probability of misrouting a task)"),
        ),
        "consumption": (
            "consumption",
            np.array(result.consumption, dtype=str),
            _attrs("1", "consumption model (lumped eq. 24 or distributed eq. 25)"),
        ),
        "trial": ("trial", result.trials.astype(np.int64), _attrs("1", "global trial index")),
        "time": ("time", result.checkpoints.astype(np.int64), time_attrs(dt_s)),
        "task_type": ("task_type", np.arange(n_types, dtype=np.int64), _attrs("1", "task type i")),
        "model": ("model", np.arange(n_models, dtype=np.int64), _attrs("1", "hosted model m")),
    }
    data_vars = {
        "deficit_J": (
            per_path,
            result.deficit_J[None],
            _attrs("J", "deficit D_t = max(0, -min over s <= t of B_s)"),
        ),
        "battery_J": (per_path, result.battery_J[None], _attrs("J", "unconstrained battery B_t")),
        "aux_injected_J": (
            per_path,
            result.aux_injected_J[None],
            _attrs("J", "cumulative auxiliary injection A_t of the floored battery"),
        ),
        "realised_drift_J_per_slot": (
            per_trial,
            result.realised_drift_J_per_slot[None],
            _attrs("J", "realised drift B_T / T (energy per slot)"),
        ),
        "increment_var_J2_per_slot": (
            per_trial,
            result.increment_var_J2_per_slot[None],
            _attrs(
                "J2", "sample variance of the per-slot increments R_t - C_t up to T (J^2 per slot)"
            ),
        ),
        "task_count": (
            ("routing_error", "trial", "task_type", "model"),
            result.task_counts[None],
            _attrs("1", "tasks of type i served by model m up to T"),
        ),
        "mu_J_per_slot": (
            ("routing_error",),
            np.array([float(mu)]),
            _attrs("J", "analytic drift per slot mu = R_bar - lambda E[e] (Lemma 2)"),
        ),
        "sigma_J_per_sqrt_slot": (
            ("routing_error",),
            np.array([float(sigma)]),
            _attrs(
                "J",
                "analytic volatility per square root of a slot sigma, "
                "sigma^2 = sigma_R^2 + lambda E[e^2] (Lemma 2)",
            ),
        ),
    }
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=merged_attrs)


def _variable_bytes(values: np.ndarray) -> bytes:
    """Canonical bytes of an array: UTF-8 for strings, little-endian for numbers."""
    if values.dtype.kind in "OUS":
        items = [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()]
        return "\x00".join(items).encode("utf-8")
    return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()


def data_sha256(ds: xr.Dataset) -> str:
    """SHA-256 of a dataset's data: names, dimensions, dtypes, shapes and values.

    Attributes are not included. Strings hash the same whatever their numpy dtype, so a
    dataset hashes the same before writing and after reading back.

    Examples
    --------
    >>> ds = xr.Dataset({"x": ("t", np.arange(3.0))})
    >>> data_sha256(ds) == data_sha256(ds.copy(deep=True))
    True
    """
    digest = hashlib.sha256()
    for name in sorted(ds.variables, key=str):
        var = ds.variables[name]
        values = np.asarray(var.values)
        kind = "str" if values.dtype.kind in "OUS" else values.dtype.newbyteorder("<").str
        header = f"{name}|{','.join(map(str, var.dims))}|{kind}|{values.shape}\n"
        digest.update(header.encode("utf-8"))
        digest.update(_variable_bytes(values))
    return digest.hexdigest()


def write_netcdf_atomic(ds: xr.Dataset, path: str | os.PathLike[str]) -> None:
    """Write a dataset to NetCDF-4 atomically, with zlib compression and a checksum.

    The file is written to a temporary name in the same directory, flushed to disk and
    renamed over ``path`` (``os.replace``), so ``path`` either keeps its previous content
    or holds the complete new file. The SHA-256 of the data is stored in the attribute
    ``data_sha256``.

    Dimensions named by strings are stored as integer dimensions with the names in a
    string coordinate (:func:`encode_labels`); the checksum covers the named dataset.
    Numeric data variables are compressed. No variable gets a ``_FillValue`` (CF-1.11
    §2.5.1 forbids one on coordinates) except floating-point data variables that hold NaN,
    which keep xarray's NaN fill value to mark them as missing. The values written are the
    same either way.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset to write; its encodings are ignored.
    path : path-like
        Target file.
    """
    out = encode_labels(ds.drop_encoding())
    out.attrs = {**ds.attrs, CHECKSUM_ATTR: data_sha256(ds)}
    encoding = {name: _encoding(out, name) for name in out.variables}
    with atomic_output(path) as tmp:
        try:
            out.to_netcdf(tmp, mode="w", format="NETCDF4", engine="netcdf4", encoding=encoding)
        except RuntimeError as err:
            # netCDF4 reports a failed write (a full disk among others) as a RuntimeError
            # "NetCDF: HDF error": make it the OSError that names the file and the space.
            full = shutil.disk_usage(Path(tmp).parent).free < 2**20
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, f"{os.strerror(code)} ({err})") from err


def _encoding(ds: xr.Dataset, name) -> dict:
    """NetCDF encoding of one variable (see :func:`write_netcdf_atomic`)."""
    var = ds.variables[name]
    enc: dict = {}
    if name in ds.data_vars and var.dtype.kind in "biuf":
        enc.update(zlib=True, complevel=4, shuffle=True)
    has_nan = var.dtype.kind in "fc" and bool(np.isnan(var.values).any())
    if name in ds.coords or not has_nan:
        enc["_FillValue"] = None
    return enc


def load_netcdf(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a NetCDF file into memory (the file is closed again), as the pipeline holds it.

    Times stay numbers: ``time`` is a CF time axis in slots (see the module docstring),
    read as horizons T [slot], not as dates. Named dimensions get their names back
    (:func:`decode_labels`). Every reader of the package's NetCDF files goes through here
    or :func:`open_checked`.

    Parameters
    ----------
    path : path-like
        A NetCDF file.

    Returns
    -------
    xarray.Dataset
        The loaded dataset; its attributes as stored (a ``data_sha256`` is kept, not checked).

    Raises
    ------
    OSError, ValueError
        If the file is missing or cannot be read as NetCDF (xarray's errors).
    """
    with xr.open_dataset(path, engine="netcdf4", decode_times=False, decode_timedelta=False) as raw:
        return decode_labels(raw.load())


def open_checked(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a shard fully into memory and verify its checksum.

    Parameters
    ----------
    path : path-like
        File written by :func:`write_netcdf_atomic`.

    Returns
    -------
    xarray.Dataset
        The loaded dataset (:func:`load_netcdf`), without the ``data_sha256`` attribute.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CorruptShardError
        If the file cannot be read (truncated, not NetCDF, damaged), has no checksum, or
        its data do not match the checksum; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such shard")
    try:
        ds = load_netcdf(path)
    except Exception as exc:
        raise CorruptShardError(
            f"{path}: cannot read the NetCDF shard ({type(exc).__name__}: {exc})"
        ) from exc
    stored = ds.attrs.pop(CHECKSUM_ATTR, None)
    if stored is None:
        raise CorruptShardError(f"{path}: no {CHECKSUM_ATTR} attribute, cannot verify the data")
    actual = data_sha256(ds)
    if stored != actual:
        raise CorruptShardError(
            f"{path}: data do not match the stored SHA-256 ({stored} != {actual})"
        )
    return ds


def _same_attr(a: object, b: object) -> bool:
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    return a_arr.shape == b_arr.shape and bool(np.all(a_arr == b_arr))


def _check_attrs(shards: list[tuple[Path, xr.Dataset]]) -> None:
    ref_path, ref = shards[0]
    for path, ds in shards[1:]:
        keys = set(ref.attrs) ^ set(ds.attrs)
        if keys:
            raise ValueError(f"{path}: attributes {sorted(keys)} differ from {ref_path}")
        for key, value in ref.attrs.items():
            if not _same_attr(value, ds.attrs[key]):
                raise ValueError(f"{path}: attribute {key!r} differs from {ref_path}")


def _check_no_overlap(pieces: list[tuple[Path, xr.Dataset]], eps: float) -> None:
    """Raise if a trial of one routing error appears in two shards."""
    owner: dict[int, Path] = {}
    for path, ds in pieces:
        for trial in ds["trial"].values.tolist():
            if trial in owner:
                raise ValueError(
                    f"routing_error={eps}: trial {trial} appears in both {owner[trial]} and {path}"
                )
            owner[trial] = path


def _strict_concat(datasets: list[xr.Dataset], dim: str) -> xr.Dataset:
    """Concatenate along ``dim``; every other variable and coordinate must agree exactly
    (raises ValueError otherwise), so shards of different runs cannot be mixed silently."""
    return xr.concat(
        datasets,
        dim=dim,
        data_vars="minimal",
        coords="minimal",
        compat="equals",
        join="exact",
        combine_attrs="override",
    )


def _concat_trials(pieces: list[tuple[Path, xr.Dataset]]) -> xr.Dataset:
    """Concatenate one routing error's shards along ``trial``, sorted by trial."""
    combined = _strict_concat([ds for _, ds in pieces], "trial")
    return combined.isel(trial=np.argsort(combined["trial"].values, kind="stable"))


def _deficit_summary(deficit: xr.DataArray) -> dict[str, xr.DataArray]:
    """Mean, std (ddof=1) and standard error of D_t across trials (docs/model.md §9-10)."""
    values = np.ascontiguousarray(deficit.transpose(..., "trial", "time").values)
    axis = values.ndim - 2
    n = values.shape[axis]
    mean = values.mean(axis=axis)
    if n > 1:
        std = np.sqrt(((values - np.expand_dims(mean, axis)) ** 2).sum(axis=axis) / (n - 1))
    else:
        std = np.full(mean.shape, np.nan)
    sem = std / np.sqrt(n)
    dims = tuple(d for d in deficit.transpose(..., "trial", "time").dims if d != "trial")
    return {
        "deficit_mean_J": xr.DataArray(
            mean, dims=dims, attrs=_attrs("J", "mean of D_t over trials")
        ),
        "deficit_std_J": xr.DataArray(
            std, dims=dims, attrs=_attrs("J", "standard deviation (ddof=1) of D_t over trials")
        ),
        "deficit_sem_J": xr.DataArray(
            sem, dims=dims, attrs=_attrs("J", "standard error of the mean of D_t (std / sqrt(n))")
        ),
    }


def merge_shards(paths: Iterable[str | os.PathLike[str]]) -> xr.Dataset:
    """Merge shards (routing errors x trial ranges) into one dataset with D_t statistics.

    Every shard is opened with :func:`open_checked`. All shards must carry the same
    dataset attributes (the same configuration and seeds), and every routing error must
    cover the same trials, a contiguous range of indices with none repeated.

    Parameters
    ----------
    paths : iterable of path-like
        Shard files, in any order.

    Returns
    -------
    xarray.Dataset
        Sorted by ``routing_error`` and ``trial``, with ``deficit_mean_J``,
        ``deficit_std_J`` and ``deficit_sem_J`` over trials (dims routing_error,
        consumption, time).

    Raises
    ------
    ValueError
        If no shard is given, attributes differ, trials overlap or are missing, or the
        checkpoints or other coordinates disagree (a :class:`CorruptShardError` for
        unreadable shards).
    """
    shards = [(Path(p), open_checked(p)) for p in paths]
    if not shards:
        raise ValueError("merge_shards: no shards given")
    _check_attrs(shards)

    groups: dict[float, list[tuple[Path, xr.Dataset]]] = {}
    for path, ds in shards:
        for eps in ds["routing_error"].values.tolist():
            groups.setdefault(eps, []).append((path, ds.sel(routing_error=[eps])))

    per_eps = []
    expected: np.ndarray | None = None
    for eps in sorted(groups):
        _check_no_overlap(groups[eps], eps)
        try:
            ds = _concat_trials(groups[eps])
        except ValueError as exc:
            raise ValueError(f"routing_error={eps}: shards disagree: {exc}") from exc
        trials = ds["trial"].values
        full = np.arange(trials[0], trials[-1] + 1)
        if trials.size != full.size:
            missing = np.setdiff1d(full, trials)
            raise ValueError(
                f"routing_error={eps}: trials {missing[:10].tolist()} missing "
                f"({missing.size} in all) between {trials[0]} and {trials[-1]}"
            )
        if expected is None:
            expected = trials
        elif not np.array_equal(trials, expected):
            raise ValueError(
                f"routing_error={eps}: covers trials {trials[0]}..{trials[-1]}, "
                f"others cover {expected[0]}..{expected[-1]} (missing trials)"
            )
        per_eps.append(ds)

    try:
        merged = _strict_concat(per_eps, "routing_error")
    except ValueError as exc:
        raise ValueError(f"merge_shards: shards disagree across routing errors: {exc}") from exc
    attrs = dict(shards[0][1].attrs)
    history = attrs.get("history")
    attrs.update(
        title=_MERGED_TITLE,
        history=f"{history}\n{_MERGE_HISTORY}" if history else _MERGE_HISTORY,
    )
    merged.attrs = attrs
    return merged.assign(_deficit_summary(merged["deficit_J"]))
