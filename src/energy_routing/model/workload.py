"""The engine's input: tasks, models, arrivals and harvest of one scenario
(docs/model.md §4-6).

:class:`Workload` holds, validated and read-only, the task mix [1], the energy [J] and
per-slot profile [J] of every (type, model), feasibility and m*(i), the arrival rate lambda
[tasks/slot], the harvest mean R_bar [J] and variance sigma_R^2 [J^2], and optionally the
slack [s] that deferring policies need and a :class:`~energy_routing.supply.supply.Supply`
for harvest and load that vary in time (docs/model.md §13). The Gamma shape [-] and
scale [J] of the harvest come from :func:`energy_routing.theory.moments.harvest_gamma`;
:func:`workload_with_slack` adds a task grid's
slack and slot length. :func:`energy_routing.model.grids.workload` builds a workload.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from energy_routing.supply.supply import Supply
from energy_routing.theory.moments import harvest_gamma

# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Everything the engine needs about tasks, models and supply (docs/model.md §4-6).

    Parameters
    ----------
    mix : ndarray, shape (K,)
        Task-type probabilities [1]; non-negative, summing to 1.
    energy_J : ndarray, shape (K, M)
        Total energy of a task of type i served by model m [J].
    profile_J : ndarray, shape (K, M, S)
        Per-slot energy while in service [J], zero-padded after the service length; sums
        over the last axis to ``energy_J`` (to rounding) (docs/model.md §5).
    feasible : ndarray of bool, shape (K, M)
        Whether model m meets task i's deadline when dispatched at arrival (docs/model.md §4).
    best_model : ndarray of int, shape (K,)
        m*(i), the feasible model of minimum energy (eq. 20-22).
    arrival_rate : float
        lambda, mean number of task arrivals per slot [1/slot].
    harvest_mean_J : float
        R_bar, mean harvest per slot [J].
    harvest_var_J2 : float
        sigma_R^2, variance of the harvest per slot [J^2]; 0 means a deterministic R_bar.
    slack_s : ndarray, shape (K, M), optional
        Delta_i - Delta_disp - Theta_im [s]: how long a task may wait before model m misses
        its deadline (docs/model.md §4); negative exactly where ``feasible`` is False.
        Needed only by policies that defer (docs/model.md §12).
    dt_s : float, default 1
        Slot length [s], to turn ``slack_s`` into slots.
    supply : energy_routing.supply.supply.Supply, optional
        Time structure of harvest and load (correlated or solar harvest, daily cycle of
        the arrival rate; docs/model.md §13) around ``harvest_mean_J``, ``harvest_var_J2``
        and ``arrival_rate``; None (or the default Supply) is the model of §6.

    Raises
    ------
    ValueError
        Naming the offending field, if a shape, sign or consistency check fails.
    """

    mix: np.ndarray
    energy_J: np.ndarray
    profile_J: np.ndarray
    feasible: np.ndarray
    best_model: np.ndarray
    arrival_rate: float
    harvest_mean_J: float
    harvest_var_J2: float
    slack_s: np.ndarray | None = None
    dt_s: float = 1.0
    supply: Supply | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        mix = np.array(self.mix, dtype=np.float64)
        energy = np.array(self.energy_J, dtype=np.float64)
        profile = np.array(self.profile_J, dtype=np.float64)
        feasible = np.array(self.feasible)
        best = np.array(self.best_model)

        if mix.ndim != 1 or mix.size == 0:
            raise ValueError(f"mix: expected a non-empty 1-D array, got shape {mix.shape}")
        n_types = mix.size
        if not np.all(np.isfinite(mix)) or np.any(mix < 0):
            raise ValueError("mix: probabilities must be finite and non-negative")
        if abs(float(mix.sum()) - 1.0) > 1e-9:
            raise ValueError(f"mix: probabilities must sum to 1, got {float(mix.sum())!r}")
        if energy.ndim != 2 or energy.shape[0] != n_types or energy.shape[1] == 0:
            raise ValueError(f"energy_J: expected shape ({n_types}, M), got {energy.shape}")
        n_models = energy.shape[1]
        if not np.all(np.isfinite(energy)) or np.any(energy < 0):
            raise ValueError("energy_J: energies must be finite and non-negative")
        if profile.ndim != 3 or profile.shape[:2] != energy.shape or profile.shape[2] == 0:
            raise ValueError(
                f"profile_J: expected shape ({n_types}, {n_models}, S), got {profile.shape}"
            )
        if not np.all(np.isfinite(profile)) or np.any(profile < 0):
            raise ValueError("profile_J: per-slot energies must be finite and non-negative")
        if not np.allclose(profile.sum(axis=2), energy, rtol=1e-9, atol=0.0):
            raise ValueError("profile_J: per-slot profiles must sum to energy_J")
        if feasible.shape != energy.shape or feasible.dtype != np.bool_:
            raise ValueError(
                f"feasible: expected a bool array of shape {energy.shape}, "
                f"got {feasible.dtype} {feasible.shape}"
            )
        if best.shape != (n_types,) or not np.issubdtype(best.dtype, np.integer):
            raise ValueError(
                f"best_model: expected {n_types} integers, got {best.dtype} {best.shape}"
            )
        if np.any(best < 0) or np.any(best >= n_models):
            raise ValueError(f"best_model: model indices must lie in [0, {n_models})")
        rows = np.arange(n_types)
        if not np.all(feasible[rows, best]):
            bad = rows[~feasible[rows, best]].tolist()
            raise ValueError(f"best_model: not feasible for task types {bad}")
        cheapest = np.where(feasible, energy, np.inf).min(axis=1)
        if np.any(energy[rows, best] > cheapest):
            bad = rows[energy[rows, best] > cheapest].tolist()
            raise ValueError(
                f"best_model: not the minimum-energy feasible model for task types {bad}"
            )
        for name in ("arrival_rate", "harvest_mean_J", "harvest_var_J2"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be finite and non-negative, got {value!r}")
            put(name, value)
        if self.harvest_var_J2 > 0 and self.harvest_mean_J == 0:
            raise ValueError("harvest_var_J2: a positive variance needs harvest_mean_J > 0")

        if self.slack_s is not None:
            slack = np.array(self.slack_s, dtype=np.float64)
            if slack.shape != energy.shape or not np.all(np.isfinite(slack)):
                raise ValueError(f"slack_s: expected finite values of shape {energy.shape}")
            if np.any((slack >= 0) != feasible):
                raise ValueError("slack_s: must be >= 0 exactly where feasible is True")
            slack.setflags(write=False)
            put("slack_s", slack)
        dt_s = float(self.dt_s)
        if not np.isfinite(dt_s) or dt_s <= 0:
            raise ValueError(f"dt_s: must be finite and > 0, got {dt_s!r}")
        put("dt_s", dt_s)
        if self.supply is not None:
            if not isinstance(self.supply, Supply):
                raise ValueError(f"supply: expected a Supply, got {type(self.supply).__name__}")
            if self.supply.is_default:
                put("supply", None)
        for arr in (mix, energy, profile, feasible):
            arr.setflags(write=False)
        best = best.astype(np.int64)
        best.setflags(write=False)
        put("mix", mix)
        put("energy_J", energy)
        put("profile_J", profile)
        put("feasible", feasible)
        put("best_model", best)

    @property
    def n_types(self) -> int:
        """Number of task types K."""
        return int(self.mix.size)

    @property
    def n_models(self) -> int:
        """Number of hosted models M."""
        return int(self.energy_J.shape[1])

    def alternatives(self, task_type: int) -> np.ndarray:
        """The feasible models other than m*(i) for task type ``i``, in index order: where
        a misrouted task may go (docs/model.md §8)."""
        alts = np.flatnonzero(self.feasible[task_type])
        return alts[alts != self.best_model[task_type]]

    @property
    def harvest_gamma(self) -> tuple[float, float]:
        """Shape [-] and scale [J] of the Gamma harvest
        (:func:`~energy_routing.theory.moments.harvest_gamma`)."""
        return harvest_gamma(self.harvest_mean_J, self.harvest_var_J2)

    @property
    def harvest_long_run_var_J2(self) -> float:
        """Long-run variance of the harvest [J^2/slot]: ``harvest_var_J2`` for i.i.d. slots,
        else :meth:`energy_routing.supply.supply.Supply.long_run_var_J2` (docs/model.md §7, §13)."""
        if self.supply is None:
            return self.harvest_var_J2
        return self.supply.long_run_var_J2(self.harvest_mean_J, self.harvest_var_J2, self.dt_s)


def workload_with_slack(workload: Workload, grid, dispatch_latency_s: float) -> Workload:
    """``workload`` with the slack Delta_i - Delta_disp - Theta_im [s] and the slot length
    of a task grid (:func:`energy_routing.model.grids.task_grid`), as the deferring policies
    need (docs/model.md §4)."""
    slack = (
        grid["deadline_s"].to_numpy()[:, None]
        - float(dispatch_latency_s)
        - grid["latency_s"].to_numpy()
    )
    return dataclasses.replace(workload, slack_s=slack, dt_s=float(grid.attrs["dt_s"]))
