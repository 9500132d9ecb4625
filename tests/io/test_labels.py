"""Named dimensions on disk: integer dimensions with string label coordinates (io.labels).

The round trip through the package's writer and readers restores the in-memory dataset
exactly: names, their order and dtype, attributes and every number, for any names
(hypothesis). On disk no coordinate variable holds strings (what CF-1.11 asks of a
coordinate variable; the checker's own verdict is in tests/io/test_cf_compliance.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_routing.io.labels import decode_labels, encode_labels
from energy_routing.io.netcdf import load_netcdf, open_checked, write_netcdf_atomic

# NetCDF strings are NUL-terminated C strings of UTF-8: names hold neither NUL nor lone
# surrogates (which UTF-8 cannot encode).
NAME = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
NAMES = st.lists(NAME, min_size=1, max_size=6, unique=True)


def named_dataset(models: list[str], policies: list[str]) -> xr.Dataset:
    """A dataset like the pipeline's: two named dimensions, numbers over them and a trial."""
    rng = np.random.default_rng(len(models) * 7 + len(policies))
    shape = (len(models), len(policies), 3)
    return xr.Dataset(
        {
            "energy_J": (("model", "policy", "trial"), rng.normal(size=shape), {"units": "J"}),
            "count": (("policy", "trial"), rng.integers(0, 9, shape[1:]), {"units": "1"}),
            "best_policy": (("model",), np.array(policies)[np.arange(len(models)) % len(policies)]),
        },
        coords={
            "model": ("model", np.array(models), {"long_name": "hosted model", "units": "1"}),
            "policy": ("policy", np.array(policies), {"long_name": "dispatch policy"}),
            "trial": ("trial", np.arange(3, dtype=np.int64), {"units": "1"}),
            "params": ("model", np.linspace(1e9, 2e9, len(models)), {"units": "1"}),
        },
        attrs={"title": "labels round trip", "seed": 7},
    )


@settings(max_examples=40, deadline=None)
@given(models=NAMES, policies=NAMES)
def test_round_trip_restores_names_order_dtype_and_numbers(models, policies):
    ds = named_dataset(models, policies)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "named.nc"
        write_netcdf_atomic(ds, path)
        # On disk: integer coordinates, the names (in order) in <dim>_label.
        with netCDF4.Dataset(path) as nc:
            for dim, names in (("model", models), ("policy", policies)):
                assert nc[dim].dtype == np.int64
                assert nc[dim][:].tolist() == list(range(len(names)))
                assert nc[f"{dim}_label"].dimensions == (dim,)
                assert list(nc[f"{dim}_label"][:]) == names
            assert "model_label" in nc["energy_J"].coordinates.split()
            assert not [
                v for v in nc.variables.values() if v.dtype is str and v.name in nc.dimensions
            ]
        back = open_checked(path)
        loaded = load_netcdf(path)
    xr.testing.assert_identical(back, ds)
    for dim in ("model", "policy"):
        assert back[dim].dtype == ds[dim].dtype  # e.g. <U3 stays <U3
        assert back[dim].values.tolist() == ds[dim].values.tolist()
    assert loaded.attrs.pop("data_sha256")
    xr.testing.assert_identical(loaded, ds)
    # Selection by name works on what the readers return.
    assert back.energy_J.sel(model=models[-1], policy=policies[0]).shape == (3,)


@given(models=NAMES)
def test_encode_then_decode_is_the_identity_in_memory(models):
    ds = named_dataset(models, ["a"])
    disk = encode_labels(ds)
    assert disk["model"].dtype == np.int64 and disk["model_label"].values.tolist() == models
    assert disk["model_label"].attrs == ds["model"].attrs
    xr.testing.assert_identical(disk["energy_J"].variable, ds["energy_J"].variable)
    xr.testing.assert_identical(decode_labels(disk), ds)


def test_a_dataset_without_named_dimensions_is_unchanged():
    ds = xr.Dataset({"x": ("t", np.arange(3.0))}, coords={"t": [5, 6, 7]})
    assert encode_labels(ds) is ds and decode_labels(ds) is ds


def test_files_with_names_as_coordinates_read_as_before(tmp_path):
    """A file written before the convention (string coordinate variables) reads the same."""
    ds = named_dataset(["1B", "10B"], ["myopic", "drift_plus_penalty"])
    ds.to_netcdf(tmp_path / "old.nc")
    xr.testing.assert_identical(load_netcdf(tmp_path / "old.nc"), ds)


def test_decode_leaves_other_label_variables_alone():
    """Only integer positions 0..n-1 with a string <dim>_label are names to restore."""
    ds = xr.Dataset({"trial_label": ("trial", np.array(["a", "b"]))}, coords={"trial": [3, 4]})
    assert decode_labels(ds) is ds


def test_a_variable_named_like_a_label_is_refused():
    ds = named_dataset(["1B"], ["myopic"]).assign(model_label=("model", np.array(["x"])))
    with pytest.raises(ValueError, match="model_label: this name holds the names of dimension"):
        encode_labels(ds)
