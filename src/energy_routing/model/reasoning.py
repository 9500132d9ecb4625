"""Stochastic reasoning length: stop at the S-th successful skill (docs/model.md §12.5).

With oracle stopping (docs/model.md §3) a model always spends its whole budget
n* = omega k* tokens, so a task's energy e_im = E_m(n*) is a number. Here a model instead
stops as soon as its S-th skill attempt succeeds. The number of attempts K then has the
negative binomial law of the trial of the S-th success,

    Pr[K = k] = C(k - 1, S - 1) p^S (1 - p)^(k - S),   k = S, S + 1, ...,

and the budget caps it: the model spends A = min(K, k*) attempts, and the task fails when
K > k*, with probability Pr[Bin(k*, p) <= S - 1] (at most the tolerance delta, by the
definition of k*). Its energy is E_m(omega A) = a omega A + b omega A (omega A - 1) / 2
(docs/model.md §1), a random variable with mean below e_im and a positive variance that
differs between models: this is what gives models different energy variances.

:func:`energy_moments` computes the exact mean, variance and failure probability by
summing over the law of A (vectorised over any broadcastable arrays); :func:`sample_energy`
draws the same quantities for a Monte Carlo check; :func:`grid_energy_moments` evaluates
them on a task grid; :func:`stochastic_drift_volatility` feeds them into Lemma 2.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import special, stats

from energy_routing.model.grids import model_table
from energy_routing.theory.moments import lemma2


def _energy_of_attempts(attempts, tokens_per_attempt, a_J, b_J):
    """E_m(omega A) [J] (docs/model.md §1)."""
    n = np.asarray(attempts, dtype=float) * tokens_per_attempt
    return a_J * n + b_J * n * (n - 1.0) / 2.0


def _one_pair(p: float, skills: int, cap: int, omega: int, a: float, b: float):
    if cap < skills:
        e = float(_energy_of_attempts(cap, omega, a, b))
        return e, 0.0, 1.0
    k = np.arange(skills, cap + 1)
    w = np.exp(stats.nbinom.logpmf(k - skills, skills, p))
    fail = float(special.bdtr(skills - 1, cap, p))  # Pr[K > cap]
    w[-1] += fail
    w /= w.sum()  # removes the last ulps of rounding; the sum is 1 in exact arithmetic
    e = _energy_of_attempts(k, omega, a, b)
    mean = float(w @ e)
    var = float(w @ (e - mean) ** 2)
    return mean, var, fail


def energy_moments(p, skills: int, cap, tokens_per_attempt: int, a_J, b_J):
    """Exact mean [J], variance [J^2] and failure probability [1] of a task's energy when
    the model stops at the S-th success, capped at ``cap`` attempts (docs/model.md §12.5).

    Parameters
    ----------
    p : array_like
        Success probability of one skill attempt, in (0, 1].
    skills : int
        S, skills per task.
    cap : array_like of int
        k*, the attempt budget (a task still unsolved after it fails).
    tokens_per_attempt : int
        omega [tokens].
    a_J, b_J : array_like
        Energy per token [J/token] and per cached token [J/token^2] of the model (§1).

    Returns
    -------
    mean_J, var_J2, fail_prob : ndarray
        Broadcast shape of the inputs.

    Examples
    --------
    One skill, certain success: one attempt, no spread.

    >>> energy_moments(1.0, 1, 5, 10, 1.0, 0.0)
    (array(10.), array(0.), array(0.))
    """
    p, cap, a_J, b_J = np.broadcast_arrays(
        np.asarray(p, dtype=float),
        np.asarray(cap, dtype=np.int64),
        np.asarray(a_J, dtype=float),
        np.asarray(b_J, dtype=float),
    )
    if np.any(~(p > 0) | (p > 1)):
        raise ValueError("p: success probabilities must lie in (0, 1]")
    if int(skills) < 1 or int(tokens_per_attempt) < 1:
        raise ValueError("skills and tokens_per_attempt must be >= 1")
    mean, var, fail = np.empty(p.shape), np.empty(p.shape), np.empty(p.shape)
    for idx in np.ndindex(p.shape):
        mean[idx], var[idx], fail[idx] = _one_pair(
            float(p[idx]),
            int(skills),
            int(cap[idx]),
            int(tokens_per_attempt),
            float(a_J[idx]),
            float(b_J[idx]),
        )
    return mean, var, fail


def sample_energy(
    p: float,
    skills: int,
    cap: int,
    tokens_per_attempt: int,
    a_J: float,
    b_J: float,
    size: int,
    rng: np.random.Generator,
):
    """Draw ``size`` tasks: energy [J] and whether each failed (docs/model.md §12.5).

    K = S + (failures before the S-th success), numpy's negative binomial; A = min(K, cap).
    """
    k = skills + rng.negative_binomial(skills, p, size=size)
    failed = k > cap
    return _energy_of_attempts(np.minimum(k, cap), tokens_per_attempt, a_J, b_J), failed


def grid_energy_moments(grid, cfg: dict):
    """Mean, variance and failure probability of every (task, model) of a task grid.

    Parameters
    ----------
    grid : xarray.Dataset
        :func:`energy_routing.model.grids.task_grid` output (``skill_prob`` and
        ``attempts`` per task and model).
    cfg : dict
        Validated config: ``ds3.skills``, ``ds3.tokens_per_attempt``, hardware and models.

    Returns
    -------
    xarray.Dataset
        ``energy_mean_J``, ``energy_var_J2``, ``failure_prob`` on (task, model), and the
        oracle energy ``energy_oracle_J`` = e_im for comparison.
    """
    mt = model_table(cfg)
    a = mt["a_J_per_token"].to_numpy()[None, :]
    b = mt["b_J_per_token2"].to_numpy()[None, :]
    mean, var, fail = energy_moments(
        grid["skill_prob"].to_numpy(),
        cfg["ds3"]["skills"],
        grid["attempts"].to_numpy(),
        cfg["ds3"]["tokens_per_attempt"],
        a,
        b,
    )
    dims = ("task", "model")
    ds = xr.Dataset(
        {
            "energy_mean_J": (
                dims,
                mean,
                {"units": "J", "long_name": "mean task energy, stopping at the S-th success"},
            ),
            "energy_var_J2": (
                dims,
                var,
                {
                    "units": "J2",
                    "long_name": "variance of the task energy, stopping at the S-th success",
                },
            ),
            "failure_prob": (
                dims,
                fail,
                {
                    "units": "1",
                    "long_name": "probability that the budget runs out before the S-th success",
                },
            ),
            "energy_oracle_J": (
                dims,
                grid["energy_J"].to_numpy(),
                {"units": "J", "long_name": "task energy with oracle stopping (whole budget)"},
            ),
        },
        coords={"task": grid["task"].to_numpy(), "model": grid["model"].to_numpy()},
    )
    return ds


def stochastic_drift_volatility(workload, route_probs, mean_J, var_J2) -> tuple[float, float]:
    """Lemma 2 with random task energies (docs/model.md §7, §12.5).

    mu = R_bar - lambda E[e] and sigma^2 = sigma_R^2 + lambda E[e^2] with
    E[e^j] = sum_i pi_i sum_m Pr[m | i] E[e_im^j] and E[e_im^2] = Var + mean^2.

    Parameters
    ----------
    workload : energy_routing.model.workload.Workload
        Mix, arrival rate and harvest moments.
    route_probs : ndarray, shape (K, M)
        Pr[m | i] of the policy (``energy_routing.theory.moments.route_probabilities``).
    mean_J, var_J2 : ndarray, shape (K, M)
        Per-task energy mean [J] and variance [J^2].

    Returns
    -------
    mu : float
        Drift [J/slot].
    sigma : float
        Volatility [J/sqrt(slot)].
    """
    probs = np.asarray(route_probs, dtype=float)
    mean = np.asarray(mean_J, dtype=float)
    second = np.asarray(var_J2, dtype=float) + mean**2
    e1 = float(workload.mix @ (probs * mean).sum(axis=1))
    e2 = float(workload.mix @ (probs * second).sum(axis=1))
    return lemma2(workload, e1, e2)
