"""Moments behind the closed forms: routing, per-task energy, drift and volatility
(docs/model.md §7-8, §13).

:func:`route_probabilities` gives Pr[m | i] of a policy and :func:`policy_moments` the mean
[J] and second moment [J^2] of a task's energy under a routing error epsilon; :func:`lemma2`
and :func:`drift_volatility` turn them into Lemma 2's drift mu = R_bar - lambda E[e]
[J/slot] and volatility sigma [J/sqrt(slot)] of the lumped walk. With a correlated (AR(1))
harvest, :func:`long_run_variance` [J^2/slot] takes the place of sigma_R^2 and
:func:`diffusion_sigma` gives the resulting sigma. The engine routes with the same tables,
so simulation and theory agree on which model serves which task.
"""

from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------
# Analytic moments (docs/model.md §7-8)
# --------------------------------------------------------------------------------------


def _alternatives(workload, task_type: int, best: np.ndarray | None) -> np.ndarray:
    """Feasible models of type i other than its primary model (m*(i) unless ``best``)."""
    if best is None:
        return workload.alternatives(task_type)
    alts = np.flatnonzero(workload.feasible[task_type])
    return alts[alts != best[task_type]]


def _route_probabilities(
    workload, routing_error: float, best: np.ndarray | None = None
) -> np.ndarray:
    """Probability that a task of type i is served by model m under the policy, (K, M).

    ``best`` replaces m*(i) as the primary model (a static policy's route table).
    """
    probs = np.zeros(workload.energy_J.shape)
    for i in range(workload.n_types):
        best_i = workload.best_model[i] if best is None else best[i]
        alts = _alternatives(workload, i, best)
        if alts.size == 0:
            probs[i, best_i] = 1.0
        else:
            probs[i, best_i] = 1.0 - routing_error
            probs[i, alts] = routing_error / alts.size
    return probs


def route_probabilities(workload, policy) -> np.ndarray:
    """Pr[m | i] of a policy (docs/model.md §8, §12), shape (K, M): its route table with
    its routing error spread uniformly over the other feasible models. Waiting policies
    keep the model chosen at arrival, so this holds for every policy of
    :mod:`energy_routing.engine.policies`."""
    return _route_probabilities(workload, policy.routing_error, policy.route_table(workload))


def policy_moments(workload, routing_error: float) -> tuple[float, float]:
    """Mean and second moment of the per-task energy under the routed policy (docs/model.md §8).

    A task of type i goes to m*(i) with probability 1 - epsilon and to each of its other
    feasible models with probability epsilon / (number of them); a type with a single
    feasible model always goes to m*(i).

    Parameters
    ----------
    workload : Workload
        Task types, energies and feasibility.
    routing_error : float
        epsilon, probability of misrouting a task [1], in [0, 1].

    Returns
    -------
    mean_J : float
        E[e], expected energy of one task [J].
    second_moment_J2 : float
        E[e^2] [J^2].

    Examples
    --------
    >>> from energy_routing.model.workload import Workload
    >>> w = Workload(mix=np.array([0.5, 0.5]), energy_J=np.array([[1.0, 3.0], [2.0, 4.0]]),
    ...              profile_J=np.array([[[1.0], [3.0]], [[2.0], [4.0]]]),
    ...              feasible=np.array([[True, True], [True, False]]),
    ...              best_model=np.array([0, 0]), arrival_rate=1.0,
    ...              harvest_mean_J=1.5, harvest_var_J2=0.0)
    >>> policy_moments(w, 0.5)
    (2.0, 4.5)
    """
    _check_routing_error(routing_error)
    probs = _route_probabilities(workload, routing_error)
    per_type_mean = (probs * workload.energy_J).sum(axis=1)
    per_type_sq = (probs * workload.energy_J**2).sum(axis=1)
    return float(workload.mix @ per_type_mean), float(workload.mix @ per_type_sq)


def drift_volatility(workload, routing_error: float) -> tuple[float, float]:
    """Drift and volatility of the battery per slot (docs/model.md §7, Lemma 2).

    mu = R_bar - lambda E[e] and sigma^2 = sigma_R^2 + lambda E[e^2] (compound Poisson).

    Parameters
    ----------
    workload : Workload
        Task types, energies, arrival rate and harvest moments.
    routing_error : float
        epsilon, probability of misrouting a task [1].

    Returns
    -------
    mu : float
        Drift [J/slot].
    sigma : float
        Volatility [J/sqrt(slot)].
    """
    return lemma2(workload, *policy_moments(workload, routing_error))


def lemma2(workload, mean_J: float, second_J2: float) -> tuple[float, float]:
    """Drift mu [J/slot] and volatility sigma [J/sqrt(slot)] of the lumped walk from the
    per-task energy's mean [J] and second moment [J^2] (Lemma 2, docs/model.md §7):
    mu = R_bar - lambda E[e], sigma^2 = sigma_R^2 + lambda E[e^2], with the harvest's
    long-run variance as sigma_R^2 when its slots are correlated (docs/model.md §13).
    A daily cycle of the arrival rate keeps lambda E[e^2] over whole days."""
    mu = workload.harvest_mean_J - workload.arrival_rate * mean_J
    harvest_var = workload.harvest_long_run_var_J2
    sigma = float(np.sqrt(harvest_var + workload.arrival_rate * second_J2))
    return float(mu), sigma


def lemma2_long_run(
    harvest_mean_J: float,
    harvest_long_run_var_J2: float,
    consumption_mean_J: float,
    consumption_long_run_var_J2: float,
) -> tuple[float, float]:
    """Drift mu [J/slot] and volatility sigma [J/sqrt(slot)] of a walk whose consumption
    is correlated from slot to slot (batched serving, docs/model.md §14.3):
    mu = R_bar - C_bar, sigma^2 = sigma_R,LR^2 + sigma_C,LR^2, the long-run variances
    ``lim Var(sum_{t<=T} .) / T`` [J^2/slot] of harvest and consumption, which are
    independent. With i.i.d. lumped consumption sigma_C,LR^2 = lambda E[e^2] and this is
    :func:`lemma2`.

    >>> lemma2_long_run(10.0, 36.0, 9.0, 64.0)
    (1.0, 10.0)
    """
    for name, value in (("harvest_long_run_var_J2", harvest_long_run_var_J2),
                        ("consumption_long_run_var_J2", consumption_long_run_var_J2)):  # fmt: skip
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name}: must be finite and >= 0, got {value!r}")
    mu = float(harvest_mean_J) - float(consumption_mean_J)
    return mu, math.sqrt(float(harvest_long_run_var_J2) + float(consumption_long_run_var_J2))


def _check_routing_error(routing_error: float) -> None:
    if not 0.0 <= float(routing_error) <= 1.0:
        raise ValueError(f"routing_error: must lie in [0, 1], got {routing_error!r}")


def long_run_variance(var_J2: float, phi: float) -> float:
    """Long-run variance of an AR(1) harvest, sigma_R^2 (1 + phi) / (1 - phi) [J^2/slot].

    ``lim Var(sum_{t<=T} R_t) / T = sigma_R^2 (1 + 2 sum_h phi^h)``: the variance per slot
    that the diffusion limit of docs/model.md §7 sees (docs/model.md §13).

    >>> long_run_variance(100.0, 0.5)
    300.0
    """
    if not (0.0 <= phi < 1.0):
        raise ValueError(f"phi must be in [0, 1), got {phi}")
    return float(var_J2) * (1.0 + phi) / (1.0 - phi)


def diffusion_sigma(harvest_var_J2: float, phi: float, consumption_var_J2: float) -> float:
    """Volatility of the battery with an AR(1) harvest [J/sqrt(slot)] (docs/model.md §7, §13).

    ``sigma = sqrt(sigma_R,LR^2 + lambda E[e^2])``: the long-run harvest variance replaces
    sigma_R^2 of docs/model.md §7; lumped consumption stays independent over slots.

    >>> diffusion_sigma(100.0, 0.0, 44.0)
    12.0
    """
    return math.sqrt(long_run_variance(harvest_var_J2, phi) + float(consumption_var_J2))


def harvest_gamma(mean_J: float, var_J2: float) -> tuple[float, float]:
    """Shape k [-] and scale theta [J] of the Gamma harvest with mean k theta = ``mean_J``
    and variance k theta^2 = ``var_J2`` (docs/model.md §6).

    A zero variance is the deterministic harvest R_t = ``mean_J``, the limit of the Gamma
    law as k -> inf at a fixed mean: ``(inf, 0.0)``.

    >>> harvest_gamma(600.0, 360000.0)
    (1.0, 600.0)
    >>> harvest_gamma(600.0, 0.0)
    (inf, 0.0)
    """
    mean_J, var_J2 = float(mean_J), float(var_J2)
    if var_J2 == 0:
        return float("inf"), 0.0
    return mean_J * mean_J / var_J2, var_J2 / mean_J
