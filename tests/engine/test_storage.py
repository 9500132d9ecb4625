"""Tests of the finite store (docs/model.md §12.1): validation, the infinite lossless store
is Theorem 1's floored battery path by path, and a finite lossy store follows its
recursion, checked against a plain-Python walk of the same increments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_workloads import small_workload
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.policies import SlackDeferral
from energy_routing.engine.storage import Storage
from energy_routing.engine.streams import scenario_key

KEY = scenario_key("storage-tests")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"capacity_J": 0.0}, "capacity_J"),
        ({"capacity_J": -5.0}, "capacity_J"),
        ({"capacity_J": math.nan}, "capacity_J"),
        ({"eta_charge": 0.0}, "eta_charge"),
        ({"eta_charge": 1.01}, "eta_charge"),
        ({"eta_discharge": -0.5}, "eta_discharge"),
        ({"self_discharge_per_slot": 1.0}, "self_discharge_per_slot"),
        ({"self_discharge_per_slot": -1e-3}, "self_discharge_per_slot"),
    ],
)
def test_storage_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"storage.{field}"):
        Storage(**kwargs)


def test_storage_from_config():
    assert Storage.from_config(None) == Storage()
    assert Storage.from_config({"capacity_J": 10.0, "eta_charge": 0.9}) == Storage(10.0, 0.9)
    with pytest.raises(ValueError, match="unknown key 'eta'"):
        Storage.from_config({"eta": 0.9})
    assert not Storage(self_discharge_per_slot=1e-4).unbounded


@pytest.mark.parametrize("mode", ["lumped", "distributed"])
@pytest.mark.parametrize("routing_error", [0.0, 0.4])
def test_infinite_lossless_store_is_the_unbounded_battery_path_by_path(mode, routing_error):
    """An explicit Storage(inf, 1, 1, 0) forced through the per-slot kernel reproduces the
    fast path's injections U_t bit for bit, and U_t == D_t (Thm. 1, to rounding), at every
    checkpoint."""
    wl = small_workload()
    kwargs = dict(
        routing_error=routing_error,
        checkpoints=log_checkpoints(1, 3000, 40),
        trials=4,
        root_seed=11,
        scenario_key=KEY,
        chunk_slots=250,
        consumption=(mode,),
    )
    fast = simulate(wl, **kwargs)
    store = simulate(wl, storage=Storage(math.inf, 1.0, 1.0, 0.0), kernel="per_slot", **kwargs)
    assert np.array_equal(store.aux_injected_J, fast.aux_injected_J)
    assert np.allclose(store.aux_injected_J, store.deficit_J, rtol=1e-12, atol=1e-9)
    assert np.all(store.spilled_J == 0.0)


def _reference_store(x: np.ndarray, storage: Storage) -> tuple[np.ndarray, ...]:
    """Plain-Python walk of the store over increments x_t (docs/model.md §12.1)."""
    s = aux = spill = 0.0
    out = []
    for xt in x:
        s *= 1.0 - storage.self_discharge_per_slot
        if xt >= 0:
            s += storage.eta_charge * xt
            if s > storage.capacity_J:
                spill += (s - storage.capacity_J) / storage.eta_charge
                s = storage.capacity_J
        else:
            s += xt / storage.eta_discharge
            if s < 0:
                aux += -s * storage.eta_discharge
                s = 0.0
        out.append((s, aux, spill))
    return tuple(np.array(v) for v in zip(*out, strict=True))


@settings(max_examples=12, deadline=None)
@given(
    capacity=st.floats(0.5, 50.0),
    eta_c=st.floats(0.5, 1.0),
    eta_d=st.floats(0.5, 1.0),
    leak=st.sampled_from([0.0, 1e-3, 0.05]),
    provisioning=st.sampled_from([0.8, 1.0, 1.3]),
    seed=st.integers(0, 2**31),
)
def test_finite_store_follows_its_recursion(capacity, eta_c, eta_d, leak, provisioning, seed):
    """Checkpoints at every slot give the increments x_t = B_t - B_{t-1}; a plain-Python
    walk of the store over them matches the kernel's stored, auxiliary and spilled energy."""
    wl = small_workload(provisioning)
    storage = Storage(capacity, eta_c, eta_d, leak)
    horizon = 400
    res = simulate(
        wl,
        storage=storage,
        checkpoints=np.arange(1, horizon + 1),
        trials=2,
        root_seed=seed,
        scenario_key=KEY,
        chunk_slots=97,
        consumption=("lumped",),
    )
    for k in range(2):
        x = np.diff(np.r_[0.0, res.battery_J[0, k]])
        s, aux, spill = _reference_store(x, storage)
        tol = 1e-9 * (1.0 + np.abs(res.battery_J[0, k]).max())
        assert np.allclose(res.stored_J[0, k], s, rtol=0, atol=tol)
        assert np.allclose(res.aux_injected_J[0, k], aux, rtol=0, atol=tol)
        assert np.allclose(res.spilled_J[0, k], spill, rtol=0, atol=tol)
        assert np.all((res.stored_J[0, k] >= 0) & (res.stored_J[0, k] <= capacity))
        assert np.all(np.diff(res.aux_injected_J[0, k]) >= 0)
        assert np.all(np.diff(res.spilled_J[0, k]) >= 0)


def test_lossless_finite_store_balances_energy():
    """Lossless, no leak: stored = B_t + U_t - spilled at every checkpoint (to rounding)."""
    wl = small_workload(1.1)
    res = simulate(
        wl,
        storage=Storage(capacity_J=20.0),
        checkpoints=log_checkpoints(1, 5000, 30),
        trials=3,
        root_seed=5,
        scenario_key=KEY,
    )
    balance = res.battery_J + res.aux_injected_J - res.spilled_J
    scale = 1.0 + np.abs(res.battery_J) + res.aux_injected_J + res.spilled_J
    assert np.all(np.abs(res.stored_J - balance) <= 1e-10 * scale)


def test_more_capacity_never_needs_more_auxiliary_energy():
    """Lossless stores on common random numbers: U_T is non-increasing in the capacity,
    path by path, and reaches D_T (Thm. 1) as the capacity grows."""
    wl = small_workload()
    kwargs = dict(checkpoints=[2000], trials=5, root_seed=3, scenario_key=KEY)
    aux = [
        simulate(wl, storage=Storage(capacity_J=c), **kwargs).aux_injected_J[..., -1]
        for c in (1.0, 5.0, 25.0, 1e12)
    ]
    for lo, hi in zip(aux[1:], aux[:-1], strict=True):
        assert np.all(lo <= hi + 1e-9)
    free = simulate(wl, **kwargs)
    assert np.allclose(aux[-1], free.deficit_J[..., -1], rtol=1e-12)


def test_store_state_is_carried_across_chunks_and_threads():
    """The per-slot kernel's results do not depend on the thread count, and a state-dependent
    policy with a finite store gives the same records for any trial sharding."""
    wl = small_workload()
    kwargs = dict(
        policy=SlackDeferral(max_wait_s=3.0, reserve_J=1.0),
        storage=Storage(30.0, 0.9, 0.95, 1e-3),
        checkpoints=log_checkpoints(1, 4000, 20),
        root_seed=8,
        scenario_key=KEY,
        chunk_slots=300,
    )
    whole = simulate(wl, trials=4, n_threads=2, **kwargs)
    part = simulate(wl, trials=[2, 3], n_threads=1, **kwargs)
    assert np.array_equal(whole.aux_injected_J[:, 2:], part.aux_injected_J)
    assert np.array_equal(whole.spilled_J[:, 2:], part.spilled_J)
    assert np.array_equal(whole.wait_slots[:, 2:], part.wait_slots)
