"""Tests of the Monte Carlo engine (docs/model.md §6-8): theorems on every path, moments,
routing, reproducibility, memory, and the numerical kernels."""

from __future__ import annotations

import dataclasses
import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snakerun import ROOT

from energy_routing.engine import draws as engine_draws
from energy_routing.engine import driver, fast_path
from energy_routing.engine import streams as engine_streams
from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.streams import scenario_key
from energy_routing.model.workload import Workload
from energy_routing.theory.moments import drift_volatility, policy_moments

KEY = scenario_key("test-scenario")


def _profiles(energy: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat per-slot profiles of the given service lengths, summing to ``energy``."""
    profile = np.zeros((*energy.shape, int(lengths.max())))
    for (i, m), n in np.ndenumerate(lengths):
        profile[i, m, :n] = energy[i, m] / n
    profile[..., 0] += energy - profile.sum(axis=2)  # exact sums
    return profile


@pytest.fixture(scope="module")
def workload() -> Workload:
    """Three task types x three models at the critical point of the myopic policy.

    Type 0 has three feasible models, type 1 two, type 2 one; services last 1-4 slots.
    The harvest mean is lambda E[e_LB] (mu = 0 at epsilon = 0) and its variance
    lambda E[e_LB^2] (the defaults of docs/model.md §6).
    """
    energy = np.array([[1.0, 2.0, 3.5], [2.5, 1.5, 4.0], [3.0, 5.0, 6.0]])
    lengths = np.array([[1, 2, 4], [3, 2, 1], [4, 3, 2]])
    draft = Workload(
        mix=np.array([0.3, 0.3, 0.4]),
        energy_J=energy,
        profile_J=_profiles(energy, lengths),
        feasible=np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=bool),
        best_model=np.array([0, 1, 0]),
        arrival_rate=1.2,
        harvest_mean_J=1.0,
        harvest_var_J2=0.0,
    )
    mean, second = policy_moments(draft, 0.0)
    return dataclasses.replace(
        draft, harvest_mean_J=draft.arrival_rate * mean, harvest_var_J2=draft.arrival_rate * second
    )


def _run(workload: Workload, **kwargs) -> driver.SimulationResult:
    options = {"root_seed": 20260101, "scenario_key": KEY, "chunk_slots": 4096} | kwargs
    return simulate(workload, **options)


# --------------------------------------------------------------------------------------
# Inputs and analytic moments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mix", np.array([0.3, 0.3, 0.3])),
        ("mix", np.array([1.2, -0.2, 0.0])),
        ("energy_J", -np.ones((3, 3))),
        ("profile_J", np.ones((3, 3, 2))),
        ("feasible", np.ones((3, 2), dtype=bool)),
        ("best_model", np.array([0, 2, 0])),
        ("best_model", np.array([1, 1, 0])),
        ("arrival_rate", -1.0),
        ("harvest_var_J2", float("nan")),
    ],
)
def test_workload_validation_names_the_field(workload, field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(workload, **{field: value})


def test_positive_harvest_variance_needs_positive_mean(workload):
    with pytest.raises(ValueError, match="harvest_var_J2"):
        dataclasses.replace(workload, harvest_mean_J=0.0)


def test_policy_moments_by_enumeration(workload):
    eps = 0.2
    # Per type: (probability, energy) of each outcome, written out by hand.
    outcomes = [
        [(1 - eps, 1.0), (eps / 2, 2.0), (eps / 2, 3.5)],
        [(1 - eps, 1.5), (eps, 2.5)],
        [(1.0, 3.0)],
    ]
    mean = sum(w * sum(p * e for p, e in o) for w, o in zip(workload.mix, outcomes, strict=True))
    second = sum(
        w * sum(p * e * e for p, e in o) for w, o in zip(workload.mix, outcomes, strict=True)
    )
    assert policy_moments(workload, eps) == pytest.approx((mean, second), rel=1e-14)
    mu, sigma = drift_volatility(workload, eps)
    lam = workload.arrival_rate
    assert mu == pytest.approx(workload.harvest_mean_J - lam * mean, rel=1e-14)
    assert sigma**2 == pytest.approx(workload.harvest_var_J2 + lam * second, rel=1e-14)
    assert drift_volatility(workload, 0.0)[0] == pytest.approx(0.0, abs=1e-12)


@given(
    t_min=st.integers(1, 10_000),
    span=st.integers(0, 10**7),
    n=st.integers(1, 200),
)
def test_log_checkpoints_properties(t_min, span, n):
    cps = log_checkpoints(t_min, t_min + span, n)
    assert cps.dtype == np.int64
    assert cps[-1] == t_min + span
    assert cps[0] == (t_min if n > 1 else t_min + span)
    assert np.all(np.diff(cps) > 0)
    assert cps.size <= n


# --------------------------------------------------------------------------------------
# Theorems on every path (docs/model.md §6)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("routing_error", [0.0, 0.3])
@pytest.mark.parametrize(("chunk_slots", "horizon"), [(3, 600), (1000, 5000)])
def test_theorem1_and_lemma1_on_every_path(workload, routing_error, chunk_slots, horizon):
    """A_t == D_t (Thm. 1) and lumped D_t >= distributed D_t (Lemma 1) at every checkpoint.

    Chunks of 3 slots are shorter than the 4-slot services, so profiles spill over more
    than one chunk boundary.
    """
    res = _run(
        workload,
        routing_error=routing_error,
        checkpoints=log_checkpoints(1, horizon, 25),
        trials=12,
        chunk_slots=chunk_slots,
    )
    deficit, injected = res.deficit_J, res.aux_injected_J
    # Rounding scale of a path: its largest |B_t| or D_t, plus one slot's volatility.
    scale = np.maximum(np.abs(res.battery_J), deficit).max(axis=2, keepdims=True) + 1.0
    assert np.all(np.abs(injected - deficit) <= 1e-9 * scale)
    lumped, distributed = res.consumption.index("lumped"), res.consumption.index("distributed")
    assert np.all(deficit[lumped] >= deficit[distributed] - 1e-9 * scale[lumped])
    assert np.all(deficit >= 0) and np.all(np.diff(deficit, axis=2) >= 0)
    assert np.any(deficit[:, :, -1] > 0)


def test_deterministic_harvest_path(workload):
    """sigma_R = 0: R_t = R_bar in every slot; Thm. 1 still holds and drift is lambda E[e]."""
    steady = dataclasses.replace(workload, harvest_var_J2=0.0)
    res = _run(steady, routing_error=0.0, checkpoints=[10, 2000], trials=4)
    assert np.allclose(res.aux_injected_J, res.deficit_J, rtol=1e-9, atol=1e-9)
    _, second = policy_moments(steady, 0.0)
    lumped_var = res.increment_var_J2_per_slot[0].mean()
    assert lumped_var == pytest.approx(steady.arrival_rate * second, rel=0.1)


# --------------------------------------------------------------------------------------
# Moments (Lemma 2) and the critical regime (docs/model.md §7)
# --------------------------------------------------------------------------------------


def _sem(values: np.ndarray) -> float:
    """Standard error of the mean across trials: std (ddof=1) / sqrt(n)."""
    return float(values.std(ddof=1) / np.sqrt(values.size))


def test_drift_and_variance_match_lemma2(workload):
    """Pooled over trials, B_T / T ~ mu and the lumped per-slot variance ~ sigma^2.

    Standard errors are the empirical ones across independent trials (std / sqrt(n));
    the bound is 4 of them. The distributed drift also loses the spill-over of the tasks
    still in service at T, at most lambda E[e] (S - 1) / T.
    """
    eps, horizon, trials = 0.25, 20_000, 64
    mu, sigma = drift_volatility(workload, eps)
    res = _run(workload, routing_error=eps, checkpoints=[horizon], trials=trials, n_threads=2)
    lumped, distributed = res.consumption.index("lumped"), res.consumption.index("distributed")
    drift = res.realised_drift_J_per_slot
    assert abs(drift[lumped].mean() - mu) <= 4 * _sem(drift[lumped])
    mean_e, _ = policy_moments(workload, eps)
    spill = workload.arrival_rate * mean_e * (workload.profile_J.shape[2] - 1) / horizon
    assert abs(drift[distributed].mean() - mu) <= 4 * _sem(drift[distributed]) + spill
    # Empirical SE agrees with the analytic sigma / sqrt(n T) of the drift.
    assert _sem(drift[lumped]) == pytest.approx(sigma / np.sqrt(trials * horizon), rel=0.35)
    var = res.increment_var_J2_per_slot[lumped]
    assert abs(var.mean() - sigma**2) <= 4 * _sem(var)
    # Spreading a task over slots can only lower the per-slot variance (sum p_j^2 <= e^2).
    assert res.increment_var_J2_per_slot[distributed].mean() < var.mean()


def test_critical_mean_deficit_matches_sqrt_law(workload):
    """At mu = 0, mean D_T ~ sigma sqrt(2T / pi) (docs/model.md §7).

    The bound is 4 standard errors (std / sqrt(n) across trials) on both sides, plus a
    one-sided allowance below: the maximum of a discrete walk undershoots the Brownian one
    by a constant (0.5826 sigma for Gaussian steps); we allow twice that, since our steps
    (compound Poisson minus Gamma) are skewed.
    """
    horizon, trials = 20_000, 400
    mu, sigma = drift_volatility(workload, 0.0)
    assert mu == pytest.approx(0.0, abs=1e-12)
    res = _run(
        workload,
        routing_error=0.0,
        checkpoints=[horizon],
        trials=trials,
        n_threads=2,
        consumption=("lumped",),
        chunk_slots=65536,
    )
    final = res.deficit_J[0, :, -1]
    target = sigma * np.sqrt(2 * horizon / np.pi)
    sem = _sem(final)
    assert target - 2 * 0.5826 * sigma - 4 * sem <= final.mean() <= target + 4 * sem
    # and the spread is that of |N(0, sigma^2 T)|: std = sigma sqrt(T (1 - 2 / pi)).
    assert final.std(ddof=1) == pytest.approx(sigma * np.sqrt(horizon * (1 - 2 / np.pi)), rel=0.15)


# --------------------------------------------------------------------------------------
# Routing (docs/model.md §8)
# --------------------------------------------------------------------------------------


def test_misrouting_fraction_and_uniform_alternatives(workload):
    """Misrouted fraction ~ epsilon (binomial SE sqrt(eps (1 - eps) / n), 4 SE bound);
    alternatives equally likely; single-feasible types and infeasible models never used."""
    eps = 0.3
    res = _run(workload, routing_error=eps, checkpoints=[20_000], trials=8, n_threads=2)
    counts = res.task_counts.sum(axis=0)  # (type, model)
    assert np.all(counts[~workload.feasible] == 0)
    for i in (0, 1):
        n = counts[i].sum()
        best = workload.best_model[i]
        misrouted = n - counts[i, best]
        se = np.sqrt(eps * (1 - eps) / n)
        assert abs(misrouted / n - eps) <= 4 * se
    # Type 0: two alternatives, each with probability eps / 2.
    n0 = counts[0].sum()
    for m in (1, 2):
        p = eps / 2
        assert abs(counts[0, m] / n0 - p) <= 4 * np.sqrt(p * (1 - p) / n0)
    assert counts[2, 0] == counts[2].sum() > 0
    # Type frequencies follow the mix.
    total = counts.sum()
    share = counts.sum(axis=1) / total
    assert np.all(np.abs(share - workload.mix) <= 4 * np.sqrt(workload.mix / total))


def test_common_random_numbers_across_routing_errors(workload):
    """The routing error is not in the key: same arrivals and harvests for every epsilon.

    Misrouting only moves tasks to costlier models, so on every path and at every
    checkpoint B_t can only fall and D_t only rise when epsilon > 0.
    """
    cps = log_checkpoints(1, 3000, 15)
    base = _run(workload, routing_error=0.0, checkpoints=cps, trials=5)
    worse = _run(workload, routing_error=0.4, checkpoints=cps, trials=5)
    np.testing.assert_array_equal(base.task_counts.sum(axis=2), worse.task_counts.sum(axis=2))
    tol = 1e-9 * (np.abs(base.battery_J).max() + 1.0)
    assert np.all(worse.battery_J[0] <= base.battery_J[0] + tol)
    assert np.all(worse.deficit_J >= base.deficit_J - tol)
    assert np.any(worse.deficit_J > base.deficit_J + 1.0)


# --------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------

_FIELDS = (
    "deficit_J",
    "battery_J",
    "aux_injected_J",
    "realised_drift_J_per_slot",
    "increment_var_J2_per_slot",
)


def _rows(res: driver.SimulationResult, trial: int) -> list[np.ndarray]:
    pos = int(np.flatnonzero(res.trials == trial)[0])
    return [getattr(res, f)[:, pos] for f in _FIELDS] + [res.task_counts[pos]]


def test_bit_identical_across_shards_threads_and_order(workload):
    common = {"routing_error": 0.2, "checkpoints": log_checkpoints(1, 3000, 12), "chunk_slots": 512}
    whole = _run(workload, trials=6, n_threads=1, **common)
    shard_a = _run(workload, trials=range(4), n_threads=2, **common)
    shard_b = _run(workload, trials=[4, 5], n_threads=1, **common)
    shuffled = _run(workload, trials=[5, 3, 1, 0, 2, 4], n_threads=2, **common)
    again = _run(workload, trials=6, n_threads=2, **common)
    for trial in range(6):
        expected = _rows(whole, trial)
        for other in (shard_a if trial < 4 else shard_b, shuffled, again):
            for a, b in zip(expected, _rows(other, trial), strict=True):
                np.testing.assert_array_equal(a, b)
    # chunk_slots is part of the scenario: another value gives other (valid) paths.
    other_chunks = _run(workload, trials=6, **(common | {"chunk_slots": 700}))
    assert not np.array_equal(other_chunks.deficit_J, whole.deficit_J)


def test_trials_depend_on_seed_and_key(workload):
    common = {"routing_error": 0.0, "checkpoints": [500], "trials": 3}
    base = _run(workload, **common)
    assert not np.array_equal(base.battery_J, _run(workload, root_seed=1, **common).battery_J)
    other_key = _run(workload, scenario_key=scenario_key("other"), **common)
    assert not np.array_equal(base.battery_J, other_key.battery_J)
    assert len(set(base.battery_J[0, :, 0].tolist())) == 3  # trials differ from each other


def test_single_mode_runs_share_the_randomness(workload):
    common = {"routing_error": 0.3, "checkpoints": log_checkpoints(1, 2000, 8), "trials": 3}
    both = _run(workload, **common)
    for k, mode in enumerate(both.consumption):
        alone = _run(workload, consumption=(mode,), **common)
        np.testing.assert_array_equal(alone.deficit_J[0], both.deficit_J[k])
        np.testing.assert_array_equal(alone.task_counts, both.task_counts)


def test_simulate_rejects_bad_arguments(workload):
    with pytest.raises(ValueError, match="checkpoints"):
        _run(workload, routing_error=0.0, checkpoints=[5, 5], trials=1)
    with pytest.raises(ValueError, match="routing_error"):
        _run(workload, routing_error=1.5, checkpoints=[5], trials=1)
    with pytest.raises(ValueError, match="trials"):
        _run(workload, routing_error=0.0, checkpoints=[5], trials=[1, 1])
    with pytest.raises(ValueError, match="consumption"):
        _run(workload, routing_error=0.0, checkpoints=[5], trials=1, consumption=("smooth",))


# --------------------------------------------------------------------------------------
# Memory: O(trials x checkpoints + chunk), never O(T)
# --------------------------------------------------------------------------------------


def test_memory_does_not_grow_with_horizon(workload):
    """Peak traced memory of 4 trials of T = 1e6 stays far below one O(T) array (8 MB)."""
    chunk = 8192
    cps = log_checkpoints(1, 1_000_000, 40)
    _run(workload, routing_error=0.1, checkpoints=[10], trials=1, chunk_slots=chunk)  # warm up
    tracemalloc.start()
    try:
        res = _run(workload, routing_error=0.1, checkpoints=cps, trials=4, chunk_slots=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Chunk buffers: a few arrays of `chunk` float64/int64 plus the tasks of one chunk.
    assert peak < 40 * chunk * 8
    assert res.deficit_J.shape == (2, 4, cps.size)


# --------------------------------------------------------------------------------------
# Numerical kernels against plain numpy references (hypothesis)
# --------------------------------------------------------------------------------------


def _walk_reference(x: np.ndarray):
    """Numpy reference: B_t, D_t = max(0, -min_{s<=t} B_s), and a floored-battery loop."""
    battery = np.cumsum(x)
    deficit = np.maximum(0.0, -np.minimum.accumulate(np.minimum(battery, 0.0)))
    injected = np.empty_like(x)
    level = total = 0.0
    for t, step in enumerate(x):
        level += step
        if level < 0:
            total -= level
            level = 0.0
        injected[t] = total
    return battery, deficit, injected


def _cuts(data, n: int) -> list[int]:
    """Arbitrary chunk boundaries strictly inside (0, n), sorted, with the ends added."""
    inner = data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=8, unique=True))
    return [0, *sorted(c for c in inner if 0 < c < n), n]


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    harvest=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=300),
)
def test_walk_kernel_matches_numpy_reference(data, harvest):
    r = np.array(harvest)
    c = np.array(data.draw(st.lists(st.floats(0, 100), min_size=r.size, max_size=r.size)))
    n = r.size
    cps = np.array(sorted(data.draw(st.sets(st.integers(1, n), min_size=1)) | {n}), dtype=np.int64)
    shift = data.draw(st.floats(-10, 10))
    state = np.zeros(6)
    out = [np.full(cps.size, np.nan) for _ in range(3)]
    p = 0
    bounds = _cuts(data, n)
    for lo, hi in itertools.pairwise(bounds):
        p = fast_path.walk_chunk(r[lo:hi], c[lo:hi], state, lo, cps, p, *out, shift)
    assert p == cps.size
    battery, deficit, injected = _walk_reference(r - c)
    np.testing.assert_array_equal(out[0], deficit[cps - 1])
    np.testing.assert_array_equal(out[1], battery[cps - 1])
    np.testing.assert_array_equal(out[2], injected[cps - 1])
    scale = np.abs(r - c).sum() + 1.0
    assert np.all(np.abs(out[2] - out[0]) <= 1e-12 * scale)  # Theorem 1
    d = (r - c) - shift
    assert state[4] == pytest.approx(d.sum(), rel=1e-9, abs=1e-9 * scale)
    assert state[5] == pytest.approx((d * d).sum(), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(1, 60), n_tasks=st.integers(0, 40))
def test_distributed_spreading_is_independent_of_chunking(data, n, n_tasks):
    """Spreading profiles chunk by chunk with carried spill-over equals one-shot spreading."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n_types, n_models, s_max = 2, 2, data.draw(st.integers(1, 7))
    service_len = rng.integers(0, s_max + 1, size=(n_types, n_models))
    profile = rng.random((n_types, n_models, s_max))
    slots = np.sort(rng.integers(0, n, size=n_tasks))
    types = rng.integers(0, n_types, size=n_tasks)
    models = rng.integers(0, n_models, size=n_tasks)
    whole = np.zeros(n + s_max)
    fast_path.distributed_consumption(slots, types, models, profile, service_len, whole)

    bounds = _cuts(data, n)
    chunk = max(hi - lo for lo, hi in itertools.pairwise(bounds))
    buf = np.zeros(chunk + s_max - 1)
    pieces = []
    for lo, hi in itertools.pairwise(bounds):
        sel = (slots >= lo) & (slots < hi)
        fast_path.distributed_consumption(
            slots[sel] - lo, types[sel], models[sel], profile, service_len, buf
        )
        pieces.append(buf[: hi - lo].copy())
        fast_path._carry_spill(buf, hi - lo, s_max - 1)
    np.testing.assert_array_equal(np.concatenate(pieces), whole[:n])
    np.testing.assert_array_equal(buf[: s_max - 1], whole[n : n + s_max - 1])


@settings(deadline=None)
@given(data=st.data(), n_slots=st.integers(1, 50))
def test_lumped_kernel_matches_bincount(data, n_slots):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n_tasks = data.draw(st.integers(0, 100))
    energy = rng.random((3, 2)) * 10
    slots = rng.integers(0, n_slots, size=n_tasks)
    types = rng.integers(0, 3, size=n_tasks)
    models = rng.integers(0, 2, size=n_tasks)
    out = np.full(n_slots, np.nan)
    fast_path.lumped_consumption(slots, types, models, energy, out)
    expected = np.bincount(slots, weights=energy[types, models], minlength=n_slots)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("routing_error", [0.0, 0.5, 1.0])
def test_route_tally_matches_routed_tasks(workload, routing_error):
    """The per-type tally equals a count over the routed tasks, and routes are feasible."""
    plan = engine_draws.EnginePlan.build(workload, routing_error)
    streams = engine_streams.trial_streams(5, KEY, 0)
    tally = np.zeros(workload.energy_J.shape, dtype=np.int64)
    buf = np.empty(500)
    for _ in range(3):
        draws = engine_draws.draw_chunk(streams, plan, 500, buf)
        types, models = engine_draws.route_myopic(draws, plan)
        before = tally.copy()
        engine_draws.tally_routes(draws, plan, tally)
        direct = np.zeros_like(tally)
        np.add.at(direct, (types, models), 1)
        np.testing.assert_array_equal(tally - before, direct)
        assert np.all(workload.feasible[types, models])
        assert np.all(np.diff(types) >= 0) and np.all(draws.slots < 500)


# --------------------------------------------------------------------------------------
# The seam: fast path unchanged, per-slot kernel bit-identical (docs/model.md §12)
# --------------------------------------------------------------------------------------

GOLDEN_FIELDS = (
    "deficit_J",
    "battery_J",
    "aux_injected_J",
    "realised_drift_J_per_slot",
    "increment_var_J2_per_slot",
    "task_counts",
)


@pytest.fixture(scope="module")
def default_workload() -> Workload:

    from energy_routing import config
    from energy_routing.model import grids

    cfg = config.load(ROOT / "config" / "config.yaml")
    return grids.workload(grids.task_grid(cfg), cfg)


@pytest.mark.parametrize("kernel", ["fast", "per_slot"])
@pytest.mark.parametrize("routing_error", [0.0, 0.05, 0.3])
def test_engine_matches_records_of_the_engine_before_the_seam(
    default_workload, kernel, routing_error
):
    """Outputs recorded from the single-file engine (commit 2682a25, before policies and
    storage became parameters) are reproduced bit for bit by the fast path and by the
    per-slot kernel running the myopic policy: default workload, both modes, 5 chunks."""
    from pathlib import Path

    golden = np.load(Path(__file__).parent / "data" / "engine_golden.npz")
    result = simulate(
        default_workload,
        routing_error=routing_error,
        checkpoints=log_checkpoints(1, 5000, 25),
        trials=[0, 1, 2],
        root_seed=7,
        scenario_key=scenario_key("golden"),
        chunk_slots=1000,
        kernel=kernel,
    )
    assert result.kernel == kernel
    for name in GOLDEN_FIELDS:
        expected = golden[f"eps{routing_error}/{name}"]
        assert np.array_equal(getattr(result, name), expected, equal_nan=True), name


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    chunk_slots=st.sampled_from([1, 2, 3, 7, 64, 500]),
    horizon=st.integers(1, 700),
    routing_error=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_per_slot_myopic_is_the_fast_path_bit_for_bit(
    workload, seed, chunk_slots, horizon, routing_error
):
    """Myopic through the per-slot kernel == fast path, every record, both modes, for
    chunks shorter than a service (carried energy over several chunks) and longer."""
    from engine_workloads import RECORDS, assert_same_paths

    kwargs = dict(
        routing_error=routing_error,
        checkpoints=np.unique(np.r_[1, log_checkpoints(1, horizon, 12)]),
        trials=[0, 3],
        root_seed=seed,
        scenario_key=KEY,
        chunk_slots=chunk_slots,
    )
    fast = simulate(workload, **kwargs)
    slow = simulate(workload, kernel="per_slot", **kwargs)
    assert (fast.kernel, slow.kernel) == ("fast", "per_slot")
    assert_same_paths(fast, slow, [f for f in RECORDS if f != "stored_J"])
    # The fast path does not walk the store; it reports F_t = B_t + U_t (eq. 47).
    scale = 1.0 + np.abs(fast.battery_J) + fast.aux_injected_J
    assert np.all(np.abs(fast.stored_J - slow.stored_J) <= 1e-12 * scale)


def test_kernel_choice_is_validated(workload):
    from energy_routing.engine.policies import SlackDeferral
    from energy_routing.engine.storage import Storage

    base = dict(checkpoints=[10], trials=1, root_seed=1, scenario_key=KEY)
    with pytest.raises(ValueError, match="kernel"):
        simulate(workload, kernel="fast", storage=Storage(capacity_J=5.0), **base)
    with pytest.raises(ValueError, match="kernel"):
        simulate(workload, kernel="fast", policy=SlackDeferral(max_wait_s=2.0), **base)
    with pytest.raises(ValueError, match="kernel"):
        simulate(workload, kernel="vectorised", **base)
    with pytest.raises(ValueError, match="routing_error"):
        simulate(workload, routing_error=0.1, policy=driver.Myopic(routing_error=0.2), **base)
    assert simulate(workload, storage=Storage(capacity_J=5.0), **base).kernel == "per_slot"
    assert simulate(workload, **base).kernel == "fast"


@settings(max_examples=30, deadline=None)
@given(n_slots=st.integers(1, 50), data=st.data())
def test_slot_order_is_a_stable_argsort(n_slots, data):
    from energy_routing.engine.per_slot import slot_order

    slots = np.array(data.draw(st.lists(st.integers(0, n_slots - 1), max_size=200)), dtype=np.int64)
    assert np.array_equal(slot_order(slots, n_slots), np.argsort(slots, kind="stable"))
