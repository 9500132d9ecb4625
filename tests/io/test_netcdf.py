"""Tests of the Monte Carlo datasets, NetCDF shards and their merge (mcio)."""

from __future__ import annotations

import os

import netCDF4
import numpy as np
import pytest
import xarray as xr

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.streams import scenario_key
from energy_routing.io import netcdf
from energy_routing.io.netcdf import (
    CorruptShardError,
    merge_shards,
    open_checked,
    result_to_dataset,
    write_netcdf_atomic,
)
from energy_routing.model.workload import Workload
from energy_routing.theory.moments import drift_volatility

ROUTING_ERRORS = (0.0, 0.25)
N_TRIALS = 8
ATTRS = {
    "config": "arrival_rate: 1.0\nprovisioning_ratio: 1.0\n",
    "git_revision": "0123abcd",
    "numpy_version": np.__version__,
    "scenario": "tiny",
}


@pytest.fixture(scope="module")
def workload() -> Workload:
    """Two task types x two models; type 1 can only use model 0."""
    energy = np.array([[2.0, 3.0], [1.0, 4.0]])
    profile = np.stack([energy / 2, energy / 2], axis=2)
    return Workload(
        mix=np.array([0.6, 0.4]),
        energy_J=energy,
        profile_J=profile,
        feasible=np.array([[True, True], [True, False]]),
        best_model=np.array([0, 0]),
        arrival_rate=1.0,
        harvest_mean_J=1.6,
        harvest_var_J2=2.8,
    )


def _dataset(workload: Workload, eps: float, trials) -> xr.Dataset:
    res = simulate(
        workload,
        routing_error=eps,
        checkpoints=log_checkpoints(1, 400, 6),
        trials=trials,
        root_seed=99,
        scenario_key=scenario_key("tiny"),
        chunk_slots=128,
    )
    mu, sigma = drift_volatility(workload, eps)
    return result_to_dataset(res, routing_error=eps, mu=mu, sigma=sigma, attrs=ATTRS)


def _write(ds: xr.Dataset, path) -> str:
    write_netcdf_atomic(ds, path)
    return str(path)


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory, workload):
    """For each routing error: one shard of all trials and four shards of trial ranges."""
    root = tmp_path_factory.mktemp("shards")
    whole, pieces = [], []
    for k, eps in enumerate(ROUTING_ERRORS):
        whole.append(_write(_dataset(workload, eps, N_TRIALS), root / f"whole_{k}.nc"))
        for lo, hi in [(0, 2), (2, 3), (3, 6), (6, 8)]:
            pieces.append(_write(_dataset(workload, eps, range(lo, hi)), root / f"p{k}_{lo}.nc"))
    return {"root": root, "whole": whole, "pieces": pieces}


def test_dataset_layout(workload):
    ds = _dataset(workload, 0.25, 3)
    assert dict(ds.sizes) == {
        "routing_error": 1,
        "consumption": 2,
        "trial": 3,
        "time": 6,
        "task_type": 2,
        "model": 2,
    }
    assert ds["time"].dtype == np.int64 and ds["time"].values[-1] == 400
    assert ds["consumption"].values.tolist() == ["lumped", "distributed"]
    assert ds["deficit_J"].dims == ("routing_error", "consumption", "trial", "time")
    for name, var in ds.variables.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    assert ds.attrs["root_seed"] == 99 and ds.attrs["chunk_slots"] == 128
    assert ds.attrs["git_revision"] == ATTRS["git_revision"]
    mu, sigma = drift_volatility(workload, 0.25)
    assert float(ds["mu_J_per_slot"][0]) == mu and float(ds["sigma_J_per_sqrt_slot"][0]) == sigma


def test_result_to_dataset_checks_consistency(workload):
    res = simulate(
        workload, routing_error=0.1, checkpoints=[5], trials=1, root_seed=1, scenario_key=1
    )
    with pytest.raises(ValueError, match="routing_error"):
        result_to_dataset(res, routing_error=0.2, mu=0.0, sigma=1.0, attrs={})
    with pytest.raises(ValueError, match="root_seed"):
        result_to_dataset(res, routing_error=0.1, mu=0.0, sigma=1.0, attrs={"root_seed": 2})


def test_write_and_open_checked_round_trip(tmp_path, workload):
    ds = _dataset(workload, 0.0, 4)
    path = tmp_path / "shard.nc"
    write_netcdf_atomic(ds, path)
    back = open_checked(path)
    xr.testing.assert_identical(back, ds)
    assert netcdf.CHECKSUM_ATTR not in back.attrs
    with netCDF4.Dataset(path) as nc:
        assert nc.variables["deficit_J"].filters()["zlib"]
        assert len(nc.getncattr(netcdf.CHECKSUM_ATTR)) == 64
    assert os.listdir(tmp_path) == ["shard.nc"]


def test_one_shard_and_four_shards_merge_identically(shard_dir):
    one = merge_shards(shard_dir["whole"])
    four = merge_shards(shard_dir["pieces"][::-1])  # any order
    xr.testing.assert_identical(one, four)
    assert one["trial"].values.tolist() == list(range(N_TRIALS))
    assert one["routing_error"].values.tolist() == list(ROUTING_ERRORS)


def test_merge_summary_and_attributes(shard_dir):
    merged = merge_shards(shard_dir["pieces"])
    deficit = merged["deficit_J"].transpose("routing_error", "consumption", "trial", "time")
    values = deficit.values
    np.testing.assert_allclose(merged["deficit_mean_J"].values, values.mean(axis=2), rtol=1e-12)
    std = values.std(axis=2, ddof=1)
    np.testing.assert_allclose(merged["deficit_std_J"].values, std, rtol=1e-12)
    np.testing.assert_allclose(merged["deficit_sem_J"].values, std / np.sqrt(N_TRIALS), rtol=1e-12)
    assert merged["deficit_mean_J"].dims == ("routing_error", "consumption", "time")
    for name in ("deficit_mean_J", "deficit_std_J", "deficit_sem_J"):
        assert merged[name].attrs["units"] == "J" and merged[name].attrs["long_name"]
    for key, value in ATTRS.items():
        assert merged.attrs[key] == value
    assert netcdf.CHECKSUM_ATTR not in merged.attrs
    # The merged dataset can itself be written and read back unchanged.
    path = shard_dir["root"] / "merged.nc"
    write_netcdf_atomic(merged, path)
    xr.testing.assert_identical(open_checked(path), merged)


def test_merge_rejects_overlapping_trials(tmp_path, workload):
    paths = [
        _write(_dataset(workload, 0.0, range(0, 3)), tmp_path / "a.nc"),
        _write(_dataset(workload, 0.0, range(2, 5)), tmp_path / "b.nc"),
    ]
    with pytest.raises(ValueError, match=r"trial 2 appears in both .*a\.nc and .*b\.nc"):
        merge_shards(paths)


def test_merge_rejects_missing_trials(tmp_path, workload):
    gap = [
        _write(_dataset(workload, 0.0, range(0, 2)), tmp_path / "a.nc"),
        _write(_dataset(workload, 0.0, range(3, 5)), tmp_path / "b.nc"),
    ]
    with pytest.raises(ValueError, match=r"trials \[2\] missing"):
        merge_shards(gap)
    uneven = [*gap[:1], _write(_dataset(workload, 0.25, range(0, 3)), tmp_path / "c.nc")]
    with pytest.raises(ValueError, match="missing"):
        merge_shards(uneven)


def test_merge_rejects_different_attributes(tmp_path, workload):
    a = _dataset(workload, 0.0, range(0, 2))
    b = _dataset(workload, 0.0, range(2, 4)).assign_attrs(git_revision="fedcba98")
    paths = [_write(a, tmp_path / "a.nc"), _write(b, tmp_path / "b.nc")]
    with pytest.raises(ValueError, match="git_revision"):
        merge_shards(paths)
    with pytest.raises(ValueError, match="no shards"):
        merge_shards([])


def test_failed_write_leaves_no_file(tmp_path, workload, monkeypatch):
    ds = _dataset(workload, 0.0, 2)
    target = tmp_path / "shard.nc"

    def half_write(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"\x89HDF\r\n\x1a\n partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_netcdf_atomic(ds, target)
    assert os.listdir(tmp_path) == []
    # An existing file keeps its previous, complete content.
    monkeypatch.undo()
    write_netcdf_atomic(ds, target)
    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_netcdf_atomic(_dataset(workload, 0.25, 2), target)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["shard.nc"]
    xr.testing.assert_identical(open_checked(target), ds)


def test_truncated_shard_is_reported_by_name(tmp_path, workload):
    path = tmp_path / "cut_shard.nc"
    write_netcdf_atomic(_dataset(workload, 0.0, 4), path)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(CorruptShardError, match=r"cut_shard\.nc"):
        open_checked(path)
    with pytest.raises(ValueError, match=r"cut_shard\.nc"):
        merge_shards([path])


def test_garbled_bytes_are_never_accepted_silently(tmp_path, workload):
    """Flip a block of bytes at several places: each damaged file is either reported, by
    name, or (when the block held only padding or unused metadata) reads back identical."""
    ds = _dataset(workload, 0.0, 4)
    clean = tmp_path / "clean.nc"
    write_netcdf_atomic(ds, clean)
    data = clean.read_bytes()
    reported = 0
    for k, fraction in enumerate(np.linspace(0.05, 0.95, 19)):
        start = int(fraction * len(data))
        damaged = bytearray(data)
        damaged[start : start + 32] = bytes(b ^ 0xFF for b in damaged[start : start + 32])
        path = tmp_path / f"garbled_{k}.nc"
        path.write_bytes(bytes(damaged))
        try:
            back = open_checked(path)
        except CorruptShardError as exc:
            assert f"garbled_{k}.nc" in str(exc)
            reported += 1
        else:
            xr.testing.assert_identical(back, ds)
    assert reported > 0


def test_altered_values_fail_the_checksum(tmp_path, workload):
    path = tmp_path / "edited.nc"
    write_netcdf_atomic(_dataset(workload, 0.0, 4), path)
    with netCDF4.Dataset(path, "a") as nc:
        nc.variables["deficit_J"][0, 0, 0, -1] = 12345.0
    with pytest.raises(CorruptShardError, match=r"edited\.nc: data do not match"):
        open_checked(path)


def test_shard_without_checksum_or_file(tmp_path, workload):
    path = tmp_path / "plain.nc"
    _dataset(workload, 0.0, 2).to_netcdf(path, engine="netcdf4")
    with pytest.raises(CorruptShardError, match=r"plain\.nc"):
        open_checked(path)
    with pytest.raises(FileNotFoundError, match=r"absent\.nc"):
        open_checked(tmp_path / "absent.nc")
