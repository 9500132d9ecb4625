"""Tests of the storage grid, its Pareto front and the ``size`` query
(docs/model.md §12.7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from engine_workloads import small_workload

from energy_routing import sizing
from energy_routing.engine.compare import storage_grid, storage_records
from energy_routing.montecarlo import log_checkpoints, scenario_key


@pytest.fixture(scope="module")
def grid() -> xr.Dataset:
    return storage_grid(
        small_workload,
        [0.9, 1.0, 1.2],
        [2.0, 10.0, math.inf],
        checkpoints=log_checkpoints(10, 4000, 15),
        trials=12,
        root_seed=4,
        scenario_key=scenario_key("sizing"),
        chunk_slots=1000,
    )


def test_storage_grid_shapes_and_monotone_means(grid):
    assert grid.aux_J_per_slot.dims == ("provisioning", "capacity_J", "trial")
    assert grid.aux_J_per_slot.shape == (3, 3, 12)
    assert grid.aux_over_time_J_per_slot.shape == (3, 3, grid.sizes["time"])
    per_trial = grid.aux_J_per_slot.values
    # lossless stores on common random numbers: more capacity never needs more aux energy
    assert np.all(np.diff(per_trial, axis=1) <= 1e-12)
    # an unbounded store never spills; a small store spills more when over-provisioned
    assert np.all(grid.waste_J_per_slot.values[:, -1] == 0.0)
    waste = grid.waste_mean_J_per_slot.values
    assert waste[2, 0] > waste[0, 0] > 0
    aux = grid.aux_mean_J_per_slot.values
    assert aux[0, 0] > aux[2, 0]
    sem = grid.aux_sem_J_per_slot.values
    assert np.allclose(sem, per_trial.std(axis=2, ddof=1) / np.sqrt(12))
    # over time: the last checkpoint's mean of U_t / t is the per-trial mean at T
    assert np.allclose(grid.aux_over_time_J_per_slot.values[..., -1], aux)


def test_storage_records(grid):
    recs = storage_records(grid)
    assert len(recs) == 9
    keys = {
        "provisioning",
        "capacity_J",
        "aux_J_per_slot",
        "aux_sem_J_per_slot",
        "waste_J_per_slot",
        "waste_sem_J_per_slot",
    }
    assert all(set(r) == keys for r in recs)
    assert recs[2]["capacity_J"] is None and recs[0]["capacity_J"] == 2.0


def _synthetic(aux_mean, waste_mean, caps, per_trial=None):
    aux_mean, waste_mean = np.asarray(aux_mean, float), np.asarray(waste_mean, float)
    if per_trial is None:
        per_trial = np.repeat(aux_mean[..., None], 4, axis=2)
    zeros = np.zeros_like(aux_mean)
    return xr.Dataset(
        {
            "aux_J_per_slot": (("provisioning", "capacity_J", "trial"), per_trial),
            "aux_mean_J_per_slot": (("provisioning", "capacity_J"), aux_mean),
            "aux_sem_J_per_slot": (("provisioning", "capacity_J"), zeros + 0.5),
            "waste_mean_J_per_slot": (("provisioning", "capacity_J"), waste_mean),
            "waste_sem_J_per_slot": (("provisioning", "capacity_J"), zeros),
        },
        coords={"provisioning": [1.0, 1.1][: aux_mean.shape[0]], "capacity_J": caps},
    )


def test_pareto_front_by_hand():
    # designs (aux, waste, cap): a=(5,1,1) b=(4,1,2) c=(6,2,2) d=(3,3,1)
    ds = _synthetic([[5.0, 4.0], [3.0, 6.0]], [[1.0, 1.0], [3.0, 2.0]], [1.0, 2.0])
    front = sizing.pareto_front(ds).values
    # c is dominated by b (better aux and waste, same capacity); the others are not
    assert front.tolist() == [[True, True], [True, False]]


def test_size_answers_the_cheapest_design():
    ds = _synthetic([[5.0, 4.0], [3.0, 1.0]], [[0.0, 0.0], [2.0, 1.0]], [1.0, 2.0])
    rec = sizing.size(ds, max_aux_J_per_slot=4.5)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.0, 2.0)
    rec = sizing.size(ds, max_aux_J_per_slot=4.5, max_capacity_J=1.5)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.1, 1.0)
    rec = sizing.size(ds, max_aux_J_per_slot=4.5, capacity_cost_per_J=1.0)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.1, 1.0)  # 2.1 < 3.0
    assert sizing.size(ds, max_aux_J_per_slot=0.5) is None
    # conservative: mean + 2 sem (sem 0.5) must meet the target
    rec = sizing.size(ds, max_aux_J_per_slot=4.5, conservative=True)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.1, 1.0)


def test_size_with_a_probability_target():
    per_trial = np.zeros((1, 2, 10))
    per_trial[0, 0] = np.arange(10.0)  # 6 of 10 trials <= 5.5
    per_trial[0, 1] = np.arange(10.0) / 2  # 10 of 10
    ds = _synthetic([[4.5, 2.25]], [[0.0, 0.0]], [1.0, 2.0], per_trial)
    rec = sizing.size(ds, max_aux_J_per_slot=5.5, probability=0.6)
    assert rec["capacity_J"] == 1.0 and rec["probability_met"] == 0.6
    lo, hi = rec["probability_interval"]
    assert lo < 0.6 < hi and rec["trials"] == 10
    rec = sizing.size(ds, max_aux_J_per_slot=5.5, probability=0.9)
    assert rec["capacity_J"] == 2.0
    rec = sizing.size(ds, max_aux_J_per_slot=5.5, probability=0.6, conservative=True)
    assert rec["capacity_J"] == 2.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_aux_J_per_slot": -1.0}, "max_aux_J_per_slot"),
        ({"max_aux_J_per_slot": 1.0, "probability": 0.0}, "probability"),
        ({"max_aux_J_per_slot": 1.0, "probability": 1.5}, "probability"),
        ({"max_aux_J_per_slot": 1.0, "max_capacity_J": 0.0}, "max_capacity_J"),
    ],
)
def test_size_rejects_bad_targets(kwargs, message):
    ds = _synthetic([[1.0]], [[0.0]], [1.0])
    with pytest.raises(ValueError, match=message):
        sizing.size(ds, **kwargs)


def test_size_command_on_a_written_grid(grid, tmp_path, capsys):
    path = tmp_path / "grid.nc"
    grid.to_netcdf(path)
    target = float(grid.aux_mean_J_per_slot.values[1, 1]) * 1.0001
    assert sizing.main(["--grid", str(path), "--max-aux", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Cheapest design" in out and "rho = " in out and "±" in out
    assert sizing.main(["--grid", str(path), "--max-aux", "0", "--json"]) in (0, 1)
    assert sizing.main(["--grid", str(path), "--max-aux", "-0.0", "--probability", "1"]) in (0, 1)
