"""Dimensions named by strings, stored as CF integer dimensions with label coordinates.

In memory some dimensions are indexed by names: ``model`` by ``"1B"``, ``"10B"``;
``task`` and ``task_type`` by ``"t0"`` ...; ``consumption``, ``policy``, ``router`` and
``harvest`` likewise. CF-1.11 wants a coordinate variable (a variable named like its
dimension) to be numeric and monotonic (§1.3, §5), and the IOOS compliance checker stops
with an exception on a string one. So on disk (docs/model.md, "Units and conventions"):

* the dimension ``d`` keeps its name and length; its coordinate ``d`` holds the positions
  0, 1, ..., n-1 (int64, units ``1``);
* the names move, in order and with their attributes, to the string variable
  ``d_label`` over ``d``, an auxiliary coordinate (CF §6.1, labels) that every variable
  over ``d`` lists in its ``coordinates`` attribute.

:func:`encode_labels` turns a dataset into that form and :func:`decode_labels` back, so the
package's writer and readers (:mod:`energy_routing.io.netcdf`) keep datasets named in
memory. Numbers are never touched.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: Suffix of the string coordinate that holds a named dimension's names on disk.
LABEL_SUFFIX = "_label"


def _is_text(var: xr.Variable) -> bool:
    return var.dtype.kind in "OUS"


def encode_labels(ds: xr.Dataset) -> xr.Dataset:
    """The on-disk form of a dataset: named dimensions indexed by integers.

    Every dimension ``d`` whose coordinate holds strings gets the integer coordinate
    ``d`` = 0, 1, ..., n-1 [1], and its names move, in order and with their attributes,
    to the auxiliary coordinate ``d_label`` over ``d`` (see the module docstring).
    :func:`decode_labels` is the inverse. Other variables are untouched.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset as the pipeline holds it in memory.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself if no dimension is named by strings.

    Raises
    ------
    ValueError
        If ``ds`` already has a variable ``d_label`` for a named dimension ``d``.

    Examples
    --------
    >>> ds = xr.Dataset(coords={"model": ("model", ["1B", "10B"], {"long_name": "model"})})
    >>> disk = encode_labels(ds)
    >>> disk["model"].values.tolist(), disk["model_label"].values.tolist()
    ([0, 1], ['1B', '10B'])
    >>> decode_labels(disk).identical(ds)
    True
    """
    coords = {}
    for dim in ds.dims:
        var = ds.variables.get(dim)
        if var is None or var.dims != (dim,) or not _is_text(var):
            continue
        label = f"{dim}{LABEL_SUFFIX}"
        if label in ds.variables:
            raise ValueError(
                f"{label}: this name holds the names of dimension {dim!r} on disk; "
                "rename the variable"
            )
        coords[label] = (dim, var.values, dict(var.attrs))
        index_attrs = {
            "units": "1",
            "long_name": f"position along {dim} (0-based); the names are in {label}",
        }
        coords[dim] = (dim, np.arange(var.size, dtype=np.int64), index_attrs)
    return ds.assign_coords(coords) if coords else ds


def decode_labels(ds: xr.Dataset) -> xr.Dataset:
    """Dimensions named by strings again: the inverse of :func:`encode_labels`.

    A dimension ``d`` whose coordinate is the integers 0, ..., n-1 and which has a string
    variable ``d_label`` over ``d`` gets the names of ``d_label`` (values, order and
    attributes) as its coordinate, and ``d_label`` is dropped. Anything else, such as a
    file written before the convention, is returned unchanged.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset as read from a file.

    Returns
    -------
    xarray.Dataset
        Named dimensions indexed by their names (numpy unicode strings).
    """
    coords, labels = {}, []
    for dim in ds.dims:
        label = f"{dim}{LABEL_SUFFIX}"
        index, names = ds.variables.get(dim), ds.variables.get(label)
        if index is None or names is None or not _is_text(names):
            continue
        if index.dims != (dim,) or names.dims != (dim,) or index.dtype.kind not in "iu":
            continue
        if not np.array_equal(index.values, np.arange(index.size)):
            continue
        values = np.asarray(names.values)
        values = values if values.dtype.kind == "U" else values.astype(str)
        coords[dim] = (dim, values, dict(names.attrs))
        labels.append(label)
    return ds.drop_vars(labels).assign_coords(coords) if coords else ds
