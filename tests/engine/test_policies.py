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
from snakerun import ROOT

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.policies import (
    DriftPlusPenalty,
    Myopic,
    SlackDeferral,
    VarianceAware,
    last_start_slots,
    policy_from_spec,
)
from energy_routing.engine.storage import Storage
from energy_routing.engine.streams import scenario_key
from energy_routing.studies.policies import POLICY_RECORD_KEYS
from energy_routing.theory.moments import route_probabilities

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


# --------------------------------------------------------------------------------------
# Stochastic reasoning length (docs/model.md §12.5)
# --------------------------------------------------------------------------------------


def _brute_force_moments(p, skills, cap, omega, a, b):
    """Sum over k with math.comb, independent of scipy's negative binomial."""
    weights, energies = [], []
    tail = 1.0
    for k in range(skills, cap + 1):
        w = math.comb(k - 1, skills - 1) * p**skills * (1 - p) ** (k - skills)
        tail -= w
        weights.append(w)
        n = omega * k
        energies.append(a * n + b * n * (n - 1) / 2)
    weights[-1] += tail
    w, e = np.array(weights), np.array(energies)
    mean = float(w @ e)
    return mean, float(w @ (e - mean) ** 2), tail


@pytest.mark.parametrize(
    ("p", "skills", "cap"), [(0.3, 3, 40), (0.05, 2, 120), (0.9, 5, 5), (0.5, 1, 30)]
)
def test_energy_moments_by_enumeration(p, skills, cap):
    from energy_routing.model.reasoning import energy_moments

    mean, var, fail = energy_moments(p, skills, cap, 20, 0.012, 1.96608e-7)
    ref = _brute_force_moments(p, skills, cap, 20, 0.012, 1.96608e-7)
    assert (float(mean), float(var), float(fail)) == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_uncapped_moments_match_the_negative_binomial_closed_form():
    """With a cap far in the tail, E[e] = c1 E[K] + c2 E[K^2] with E[K] = S/p and
    Var K = S(1-p)/p^2 (c1 = a w - b w / 2, c2 = b w^2 / 2)."""
    from energy_routing.model.reasoning import energy_moments

    p, s, w, a, b = 0.2, 10, 20, 0.12, 1.96608e-7
    mean, _, fail = energy_moments(p, s, 2000, w, a, b)
    ek = s / p
    ek2 = s * (1 - p) / p**2 + ek**2
    assert float(fail) < 1e-30
    assert float(mean) == pytest.approx((a * w - b * w / 2) * ek + b * w * w / 2 * ek2, rel=1e-10)


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.01, 1.0), skills=st.integers(1, 30), extra=st.integers(0, 400))
def test_energy_moments_properties(p, skills, extra):
    from scipy import special

    from energy_routing.model.reasoning import energy_moments

    cap = skills + extra
    mean, var, fail = (float(v) for v in energy_moments(p, skills, cap, 20, 0.012, 2e-7))
    lo = 0.012 * 20 * skills + 2e-7 * 20 * skills * (20 * skills - 1) / 2
    hi = 0.012 * 20 * cap + 2e-7 * 20 * cap * (20 * cap - 1) / 2
    assert lo * (1 - 1e-12) <= mean <= hi * (1 + 1e-12)
    assert 0.0 <= var <= (hi - lo) ** 2 / 4 * (1 + 1e-9) + 1e-9
    assert fail == pytest.approx(float(special.bdtr(skills - 1, cap, p)), rel=1e-12, abs=1e-300)


def test_grid_moments_checked_by_simulation():
    """Default grid: exact mean, variance and failure probability of two (task, model)
    pairs against 200,000 simulated tasks each (within 5 standard errors); the failure
    probability never exceeds the tolerance delta and the mean stays below the oracle."""

    from energy_routing import config
    from energy_routing.model import grids, reasoning

    cfg = config.load(ROOT / "config" / "config.yaml")
    grid = grids.task_grid(cfg)
    mom = reasoning.grid_energy_moments(grid, cfg)
    assert np.all(mom.failure_prob <= cfg["ds3"]["tolerance"] + 1e-12)
    assert np.all(mom.energy_mean_J < mom.energy_oracle_J)
    mt = grids.model_table(cfg)
    rng = np.random.default_rng(5)
    n = 200_000
    for i, m in ((0, 0), (9, 1)):
        e, failed = reasoning.sample_energy(
            float(grid.skill_prob[i, m]),
            cfg["ds3"]["skills"],
            int(grid.attempts[i, m]),
            cfg["ds3"]["tokens_per_attempt"],
            float(mt["a_J_per_token"][m]),
            float(mt["b_J_per_token2"][m]),
            n,
            rng,
        )
        mean, var = float(mom.energy_mean_J[i, m]), float(mom.energy_var_J2[i, m])
        fail = float(mom.failure_prob[i, m])
        assert abs(e.mean() - mean) < 5 * np.sqrt(var / n)
        assert abs(e.var(ddof=1) - var) < 5 * np.sqrt(2.0 / n) * var * 2  # heavy-ish tail
        assert abs(failed.mean() - fail) < 5 * np.sqrt(fail * (1 - fail) / n)


def test_lemma2_with_random_energies():
    from energy_routing.model.reasoning import stochastic_drift_volatility
    from energy_routing.theory.moments import drift_volatility

    wl = small_workload()
    probs = route_probabilities(wl, Myopic(routing_error=0.2))
    zero = stochastic_drift_volatility(wl, probs, wl.energy_J, np.zeros_like(wl.energy_J))
    assert zero == pytest.approx(drift_volatility(wl, 0.2), rel=1e-14)
    mu, sigma = stochastic_drift_volatility(wl, probs, wl.energy_J, VAR)
    extra = wl.arrival_rate * float(wl.mix @ (probs * VAR).sum(axis=1))
    assert mu == pytest.approx(zero[0], abs=1e-12)
    assert sigma**2 == pytest.approx(zero[1] ** 2 + extra, rel=1e-13)


# --------------------------------------------------------------------------------------
# Policy comparison on common random numbers (docs/model.md §12.6)
# --------------------------------------------------------------------------------------


def test_compare_policies_pairs_every_case_with_myopic(tmp_path):
    from energy_routing.studies.policies import compare_policies, policy_records

    wl = small_workload(provisioning=0.95)
    cases = [
        SlackDeferral(max_wait_s=0.0),
        SlackDeferral(max_wait_s=4.0),
        DriftPlusPenalty(V_tasks_per_J=1.0),
        Myopic(routing_error=0.3),
        VarianceAware(risk_weight_per_J=1e6, energy_var_J2=VAR),
    ]
    ds = compare_policies(
        wl,
        cases,
        checkpoints=log_checkpoints(10, 3000, 12),
        trials=16,
        root_seed=12,
        scenario_key=KEY,
        storage=Storage(capacity_J=20.0),
        energy_mean_J=wl.energy_J,
        energy_var_J2=VAR,
    )
    assert list(ds.policy.values) == [
        "myopic",
        "slack_deferral",
        "drift_plus_penalty",
        "variance_aware",
    ]
    assert ds.aux_J.dims == ("policy", "parameter", "trial")
    assert ds.parameter_value.values[0, :2].tolist() == [0.0, 0.3]
    recs = policy_records(ds)
    assert len(recs) == 6
    by = {(r["policy"], r["parameter"]): r for r in recs}
    required = set(POLICY_RECORD_KEYS)
    assert all(required <= set(r) for r in recs)
    # zero slack is myopic on every trial: difference exactly 0
    assert by["slack_deferral", 0.0]["diff_vs_myopic_J"] == 0.0
    assert by["slack_deferral", 0.0]["diff_vs_myopic_sem_J"] == 0.0
    # the paired standard error is that of the per-trial differences
    a = ds.aux_J.sel(policy="slack_deferral").values[1]
    m = ds.aux_J.sel(policy="myopic").values[0]
    d = a - m
    rec = by["slack_deferral", 4.0]
    assert rec["diff_vs_myopic_J"] == pytest.approx(d.mean(), rel=1e-12)
    assert rec["diff_vs_myopic_sem_J"] == pytest.approx(d.std(ddof=1) / 4.0, rel=1e-12)
    assert rec["mean_wait_s"] > 0 and rec["missed_deadline_fraction"] == 0.0
    # common random numbers make the paired error smaller than the unpaired one
    unpaired = np.sqrt(a.var(ddof=1) / 16 + m.var(ddof=1) / 16)
    assert rec["diff_vs_myopic_sem_J"] < unpaired
    # the closed form is at the myopic critical point: the reference's drift offset is 0
    assert ds.closed_form_D_T_J.values[0, 0] == pytest.approx(
        ds.sigma_stochastic_J.values[0, 0] * np.sqrt(2 * 3000 / np.pi), rel=1e-12
    )
    path = tmp_path / "policies.nc"
    ds.to_netcdf(path)
    assert xr_equal(path, ds)


def xr_equal(path, ds) -> bool:
    import xarray as xr

    with xr.open_dataset(path, decode_times=False) as back:
        return bool(back.load().identical(ds)) or bool(back.load().equals(ds))


# --------------------------------------------------------------------------------------
# Dispatcher overhead (docs/model.md §12.8)
# --------------------------------------------------------------------------------------


def test_router_validation_and_workload_through_a_dispatcher():
    from energy_routing.engine.policies import Router
    from energy_routing.studies.routers import with_dispatcher

    with pytest.raises(ValueError, match="router 'r': routing_error"):
        Router(name="r", routing_error=2.0)
    with pytest.raises(ValueError, match="router 'r': energy_J"):
        Router(name="r", energy_J=-1.0)
    with pytest.raises(ValueError, match="router 'r': latency_s"):
        Router(name="r", latency_s=math.inf)
    wl = small_workload()
    same = with_dispatcher(wl, Router(name="ideal"))
    assert np.array_equal(same.energy_J, wl.energy_J)
    assert np.array_equal(same.best_model, wl.best_model)
    heavy = with_dispatcher(wl, Router(name="heavy", energy_J=0.25, latency_s=0.2))
    assert np.allclose(heavy.energy_J, wl.energy_J + 0.25)
    assert np.allclose(heavy.profile_J.sum(axis=2), heavy.energy_J)
    # slack 6, 3.5, 0 / 2.2, 4, - / 0.5: after 3.6 s only (0,0), (1,1) stay feasible,
    # and type 2 loses its only model
    with pytest.raises(ValueError, match=r"task types \[2\]"):
        with_dispatcher(wl, Router(name="slow", latency_s=3.6))
    wl2 = with_dispatcher(wl, Router(name="mid", latency_s=0.4))
    assert wl2.feasible.tolist() == [[True, True, False], [True, True, False], [True, False, False]]


def test_routers_compared_on_common_random_numbers_and_break_even():
    from energy_routing.engine.policies import Router
    from energy_routing.studies.routers import break_even_energy_J, compare_routers, router_records
    from energy_routing.theory.moments import policy_moments

    wl = small_workload()
    light = Router(name="light", routing_error=0.3)
    e_star = break_even_energy_J(wl, light, 0.0)
    saved = policy_moments(wl, 0.3)[0] - policy_moments(wl, 0.0)[0]
    assert e_star == pytest.approx(saved, rel=1e-12) and e_star > 0
    routers = [
        light,
        Router(name="heavy-cheap", routing_error=0.0, energy_J=0.5 * e_star),
        Router(name="heavy-even", routing_error=0.0, energy_J=e_star),
        Router(name="heavy-dear", routing_error=0.0, energy_J=2.0 * e_star),
    ]
    ds = compare_routers(wl, routers, checkpoints=[20000], trials=24, root_seed=3, scenario_key=KEY)
    mu = ds.mu_J_per_slot.values
    assert mu[1] > mu[0] and mu[2] == pytest.approx(mu[0], abs=1e-9) and mu[3] < mu[0]
    recs = router_records(ds)
    assert recs[0]["diff_vs_reference_J"] == 0.0
    # a router that saves more than it costs needs less auxiliary energy, one that costs
    # more needs more (paired differences, several standard errors away from 0)
    assert recs[1]["diff_vs_reference_J"] < -3 * recs[1]["diff_vs_reference_sem_J"]
    assert recs[3]["diff_vs_reference_J"] > 3 * recs[3]["diff_vs_reference_sem_J"]


def test_static_policies_through_the_per_slot_kernel_match_the_fast_path():
    wl = small_workload()
    for policy in (
        VarianceAware(risk_weight_per_J=1e6, energy_var_J2=VAR, routing_error=0.4),
        Myopic(routing_error=1.0),
    ):
        fast = _sim(wl, policy, chunk_slots=7)
        slow = _sim(wl, policy, chunk_slots=7, kernel="per_slot")
        assert_same_paths(fast, slow, [f for f in RECORDS if f != "stored_J"])


def test_slot_state_fields_are_named():
    from energy_routing.engine.per_slot import STATE_FIELDS, SlotState

    st = SlotState.empty(3)
    st.values[:] = np.arange(len(STATE_FIELDS))
    assert [getattr(st, name) for name in STATE_FIELDS] == list(range(len(STATE_FIELDS)))
    assert STATE_FIELDS[:4] == ("battery_J", "battery_min_J", "stored_J", "aux_J")
    st.values[STATE_FIELDS.index("queue_len")] = 2
    st.q_arrival[:2] = [5, 6]
    st.reserve_queue(1000)
    assert st.q_arrival.size >= 1002 and st.q_arrival[:2].tolist() == [5, 6]


# --------------------------------------------------------------------------------------
# Random task energies in the engine (docs/model.md §12.5)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_law():
    from energy_routing import config
    from energy_routing.model import grids
    from energy_routing.studies import sections

    cfg = config.load(ROOT / "config" / "config.yaml")
    grid = grids.task_grid(cfg)
    return grids.workload(grid, cfg), sections.energy_law(grid, cfg), grid, cfg


def test_engine_with_random_energies_checks_lemma2(default_law):
    """Lumped walk with stochastic reasoning length: the realised drift and increment
    variance per trial agree with Lemma 2 fed the exact moments, and the fraction of failed
    tasks with the exact failure probabilities (each within 4 standard errors over trials)."""
    from energy_routing.model import reasoning
    from energy_routing.theory.moments import route_probabilities

    wl, law, grid, cfg = default_law
    res = simulate(
        wl,
        energy_law=law,
        checkpoints=[20000],
        trials=24,
        root_seed=5,
        scenario_key=KEY,
        consumption=("lumped",),
        chunk_slots=4096,
    )
    assert res.kernel == "per_slot"
    mom = reasoning.grid_energy_moments(grid, cfg)
    probs = route_probabilities(wl, Myopic())
    mu, sigma = reasoning.stochastic_drift_volatility(
        wl, probs, mom.energy_mean_J.values, mom.energy_var_J2.values
    )
    drift = res.realised_drift_J_per_slot[0]
    assert abs(drift.mean() - mu) < 4 * drift.std(ddof=1) / np.sqrt(24)
    var = res.increment_var_J2_per_slot[0]
    assert abs(var.mean() - sigma**2) < 4 * var.std(ddof=1) / np.sqrt(24)
    # not the oracle's: its drift is 0 here, the stochastic one clearly positive
    assert mu > 50 and drift.mean() > 50
    p_fail = float(wl.mix @ (probs * mom.failure_prob.values).sum(axis=1))
    n = res.task_counts.sum()
    assert abs(res.failed_tasks.sum() / n - p_fail) < 4 * np.sqrt(p_fail / n)


def test_random_energies_are_common_to_all_policies(default_law):
    """Same trial, same draws: with zero slack the deferral equals myopic path by path, and
    the energies do not depend on the store or the thread count."""
    import dataclasses

    from energy_routing.model.workload import workload_with_slack

    wl, law, grid, _ = default_law
    wl = workload_with_slack(wl, grid, 0.0)
    kw = dict(
        energy_law=law,
        checkpoints=log_checkpoints(1, 3000, 10),
        trials=3,
        root_seed=1,
        scenario_key=KEY,
        consumption=("lumped",),
        chunk_slots=512,
    )
    a = simulate(wl, policy=Myopic(), **kw)
    b = simulate(wl, policy=SlackDeferral(max_wait_s=0.0), n_threads=2, **kw)
    assert_same_paths(a, b)
    assert np.array_equal(a.failed_tasks, b.failed_tasks)
    c = simulate(wl, **kw)
    assert not np.array_equal(
        c.aux_injected_J, simulate(wl, **(kw | {"energy_law": None})).aux_injected_J
    )
    with pytest.raises(ValueError, match="lumped only"):
        simulate(wl, **(kw | {"consumption": ("distributed",)}))
    bad = dataclasses.replace(
        law,
        skill_prob=law.skill_prob[:, :1],
        budget_attempts=law.budget_attempts[:, :1],
        a_J=law.a_J[:1],
        b_J=law.b_J[:1],
    )
    with pytest.raises(ValueError, match="shape"):
        simulate(wl, **(kw | {"energy_law": bad}))
