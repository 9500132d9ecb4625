"""Small workloads shared by the engine tests (test_montecarlo, test_policies, test_storage,
test_sizing): three task types x three models, services of 1-4 slots, with slack."""

from __future__ import annotations

import dataclasses

import numpy as np

from energy_routing.model.workload import Workload
from energy_routing.theory.moments import policy_moments


def flat_profiles(energy: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat per-slot profiles of the given service lengths, summing to ``energy``."""
    profile = np.zeros((*energy.shape, int(lengths.max())))
    for (i, m), n in np.ndenumerate(lengths):
        profile[i, m, :n] = energy[i, m] / n
    profile[..., 0] += energy - profile.sum(axis=2)  # exact sums
    return profile


def small_workload(provisioning: float = 1.0, variance_scale: float = 1.0) -> Workload:
    """Type 0 has three feasible models, type 1 two, type 2 one; slack 0-6 s at dt = 1 s.

    The harvest mean is provisioning x lambda E[e_LB] and its variance
    variance_scale x lambda E[e_LB^2] (docs/model.md §6).
    """
    energy = np.array([[1.0, 2.0, 3.5], [2.5, 1.5, 4.0], [3.0, 5.0, 6.0]])
    lengths = np.array([[1, 2, 4], [3, 2, 1], [4, 3, 2]])
    feasible = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=bool)
    slack = np.array([[6.0, 3.5, 0.0], [2.2, 4.0, -1.0], [0.5, -2.0, -0.1]])
    draft = Workload(
        mix=np.array([0.3, 0.3, 0.4]),
        energy_J=energy,
        profile_J=flat_profiles(energy, lengths),
        feasible=feasible,
        best_model=np.array([0, 1, 0]),
        arrival_rate=1.2,
        harvest_mean_J=1.0,
        harvest_var_J2=0.0,
        slack_s=slack,
        dt_s=1.0,
    )
    mean, second = policy_moments(draft, 0.0)
    lam = draft.arrival_rate
    return dataclasses.replace(
        draft,
        harvest_mean_J=provisioning * lam * mean,
        harvest_var_J2=variance_scale * lam * second,
    )


RECORDS = (
    "deficit_J",
    "battery_J",
    "aux_injected_J",
    "realised_drift_J_per_slot",
    "increment_var_J2_per_slot",
    "task_counts",
    "spilled_J",
    "stored_J",
    "backlog",
    "dispatched",
    "wait_slots",
    "missed",
    "backlog_slots",
)


def assert_same_paths(a, b, fields=RECORDS) -> None:
    """Every record of two simulation results equal bit for bit (NaN equal to NaN)."""
    for name in fields:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=True), f"{name} differs"
