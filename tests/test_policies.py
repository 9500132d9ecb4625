"""Tests of the dispatch policies (docs/model.md §8, §12.2-12.4): validation, identities
path by path (zero slack = myopic, V = 0 = myopic, V -> inf = deferral without reserve,
risk weight 0 = myopic), deadlines, conservation of tasks and common random numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_workloads import RECORDS, assert_same_paths, small_workload
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_routing.engine.policies import (
    DriftPlusPenalty,
    Myopic,
    SlackDeferral,
    VarianceAware,
    last_start_slots,
    policy_from_spec,
)
from energy_routing.engine.storage import Storage
from energy_routing.montecarlo import (
    log_checkpoints,
    route_probabilities,
    scenario_key,
    simulate,
)

KEY = scenario_key("policy-tests")
VAR = np.array([[4.0, 1.0, 0.0], [9.0, 0.5, 1.0], [2.0, 1.0, 1.0]])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Myopic(routing_error=1.5), "routing_error"),
        (lambda: SlackDeferral(max_wait_s=-1.0), "max_wait_s"),
        (lambda: SlackDeferral(max_wait_s=math.nan), "max_wait_s"),
        (lambda: SlackDeferral(max_wait_s=1.0, reserve_J=-2.0), "reserve_J"),
        (lambda: SlackDeferral(max_wait_s=1.0, reserve_J=math.inf), "reserve_J"),
        (lambda: DriftPlusPenalty(V_tasks_per_J=-1.0), "V_tasks_per_J"),
        (lambda: DriftPlusPenalty(V_tasks_per_J=math.inf), "V_tasks_per_J"),
        (lambda: VarianceAware(risk_weight_per_J=1.0), "energy_var_J2"),
        (lambda: VarianceAware(risk_weight_per_J=-1.0, energy_var_J2=VAR), "risk_weight"),
        (lambda: VarianceAware(risk_weight_per_J=1.0, energy_var_J2=-VAR), "energy_var_J2"),
        (lambda: policy_from_spec("slack_deferral", 1.0, {"V": 2.0}), "unknown option 'V'"),
        (lambda: policy_from_spec("myopic", 0.0, {"routing_error": 0.1}), "unknown option"),
        (lambda: policy_from_spec("fifo", 0.0), "unknown"),
    ],
)
def test_policies_reject_bad_parameters_with_a_clear_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_deferring_policies_need_the_slack():
    wl = small_workload()
    import dataclasses

    bare = dataclasses.replace(wl, slack_s=None)
    with pytest.raises(ValueError, match="slack_s"):
        simulate(
            bare,
            policy=SlackDeferral(max_wait_s=2.0),
            checkpoints=[5],
            trials=1,
            root_seed=0,
            scenario_key=KEY,
        )


def test_last_start_and_wait_limits():
    wl = small_workload()
    assert last_start_slots(wl.slack_s, 1.0).tolist() == [[6, 3, 0], [2, 4, -1], [0, -1, -1]]
    assert last_start_slots(wl.slack_s, 0.5).tolist() == [[12, 7, 0], [4, 8, -1], [1, -1, -1]]
    limit = SlackDeferral(max_wait_s=3.0).wait_limit(wl)
    assert limit.tolist() == [[3, 3, 0], [2, 3, 0], [0, 0, 0]]
    assert DriftPlusPenalty(V_tasks_per_J=1.0).wait_limit(wl).tolist() == [
        [6, 3, 0],
        [2, 4, 0],
        [0, 0, 0],
    ]


def _sim(wl, policy, **kw):
    options = (
        dict(
            checkpoints=log_checkpoints(1, 2500, 30),
            trials=3,
            root_seed=99,
            scenario_key=KEY,
            chunk_slots=200,
        )
        | kw
    )
    return simulate(wl, policy=policy, **options)


@settings(max_examples=10, deadline=None)
@given(
    reserve=st.floats(0.0, 50.0),
    routing_error=st.sampled_from([0.0, 0.3]),
    capacity=st.sampled_from([math.inf, 4.0]),
    seed=st.integers(0, 2**31),
)
def test_zero_slack_and_zero_v_are_myopic_path_by_path(reserve, routing_error, capacity, seed):
    """Deferral with no slack to use, and drift-plus-penalty with V = 0, start every task on
    arrival: every record equals the myopic policy's, bit for bit, both modes."""
    wl = small_workload()
    storage = Storage(capacity_J=capacity)
    myopic = _sim(
        wl, Myopic(routing_error=routing_error), storage=storage, kernel="per_slot", root_seed=seed
    )
    deferral = _sim(
        wl,
        SlackDeferral(max_wait_s=0.0, reserve_J=reserve, routing_error=routing_error),
        storage=storage,
        root_seed=seed,
    )
    dpp = _sim(
        wl,
        DriftPlusPenalty(V_tasks_per_J=0.0, routing_error=routing_error),
        storage=storage,
        root_seed=seed,
    )
    assert deferral.kernel == dpp.kernel == "per_slot"
    assert_same_paths(myopic, deferral)
    assert_same_paths(myopic, dpp)
    if math.isinf(capacity):
        fast = _sim(wl, Myopic(routing_error=routing_error), root_seed=seed)
        assert_same_paths(fast, deferral, [f for f in RECORDS if f != "stored_J"])


def test_large_v_is_deferral_without_reserve_path_by_path():
    wl = small_workload()
    for wait in (1.0, 4.0):
        a = _sim(wl, DriftPlusPenalty(V_tasks_per_J=1e300, max_wait_s=wait))
        b = _sim(wl, SlackDeferral(max_wait_s=wait, reserve_J=0.0))
        assert_same_paths(a, b)


@pytest.mark.parametrize(
    "policy",
    [
        SlackDeferral(max_wait_s=math.inf, reserve_J=2.0),
        SlackDeferral(max_wait_s=2.0, reserve_J=0.0, routing_error=0.5),
        DriftPlusPenalty(V_tasks_per_J=5.0),
        DriftPlusPenalty(V_tasks_per_J=50.0, max_wait_s=1.0),
    ],
)
@pytest.mark.parametrize("mode", ["lumped", "distributed"])
def test_waiting_policies_meet_deadlines_and_conserve_tasks(policy, mode):
    wl = small_workload(provisioning=0.9)
    res = _sim(wl, policy, consumption=(mode,), storage=Storage(capacity_J=10.0))
    arrived = res.task_counts.sum(axis=(1, 2))
    queued = res.backlog[0, :, -1]
    assert np.all(res.missed == 0)
    assert np.array_equal(res.dispatched[0] + queued, arrived)
    assert np.all(res.wait_slots > 0)  # the battery is often low: tasks do wait
    limit = policy.wait_limit(wl)
    assert np.all(res.wait_slots[0] <= res.dispatched[0] * limit.max())
    # Routes are decided at arrival from the routing stream: the same as myopic's.
    myopic = _sim(wl, Myopic(routing_error=policy.routing_error), consumption=(mode,))
    assert np.array_equal(res.task_counts, myopic.task_counts)


def test_an_unreachable_reserve_makes_every_task_wait_its_limit():
    """With a reserve no store reaches, each task starts exactly at its wait limit."""
    wl = small_workload()
    policy = SlackDeferral(max_wait_s=2.0, reserve_J=1e12)
    res = _sim(wl, policy, checkpoints=[3000], consumption=("lumped",))
    limit = policy.wait_limit(wl)
    expected = (res.task_counts * limit).sum(axis=(1, 2))
    # tasks arriving in the last 2 slots may still be queued at T
    queued = res.backlog[0, :, -1]
    assert np.all(res.wait_slots[0] <= expected)
    assert np.all(res.wait_slots[0] >= expected - queued * limit.max())
    assert np.all(res.dispatched[0] + queued == res.task_counts.sum(axis=(1, 2)))


def test_variance_aware_at_zero_weight_is_myopic_on_the_fast_path():
    wl = small_workload()
    va = _sim(wl, VarianceAware(risk_weight_per_J=0.0, energy_var_J2=VAR, routing_error=0.2))
    my = _sim(wl, Myopic(routing_error=0.2))
    assert va.kernel == "fast"
    assert_same_paths(va, my)


def test_variance_aware_route_table_and_probabilities():
    wl = small_workload()
    # kappa large: the feasible model of least variance (type 0: model 2; type 1: model 1)
    heavy = VarianceAware(risk_weight_per_J=1e6, energy_var_J2=VAR)
    assert heavy.route_table(wl).tolist() == [2, 1, 0]
    # kappa = 0.3: type 0 scores 1 + 1.2, 2 + 0.3, 3.5 + 0 -> model 0
    assert VarianceAware(risk_weight_per_J=0.3, energy_var_J2=VAR).route_table(wl).tolist() == [
        0,
        1,
        0,
    ]
    probs = route_probabilities(
        wl, VarianceAware(routing_error=0.1, risk_weight_per_J=1e6, energy_var_J2=VAR)
    )
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0].tolist() == pytest.approx([0.05, 0.05, 0.9])
    assert probs[2].tolist() == [1.0, 0.0, 0.0]
    res = _sim(wl, heavy, consumption=("lumped",))
    counts = res.task_counts.sum(axis=0)
    assert counts[0, :2].sum() == 0 and counts[1, 0] == 0
