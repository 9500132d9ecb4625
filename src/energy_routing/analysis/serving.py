"""The theory under batched serving, measured (docs/model.md §14.3).

Batched consumption is correlated from slot to slot (a task stays in service for many
slots and the batch it shares changes slowly), so the per-slot variance no longer gives the
walk's volatility. :func:`long_run_variance` estimates the long-run variance of C_t by
batch means, with a standard error over trials; :func:`regimes_summary` puts it with the
realised drift into Lemma 2 and T* (:func:`energy_routing.theory.moments.lemma2_long_run`,
:func:`energy_routing.theory.diffusion.crossover_time`), checks the diffusion's E[D_T]
against the Monte Carlo at the horizon, reads the large-T log-log slope of E[D_T] at every
provisioning ratio with a trial bootstrap (:func:`energy_routing.analysis.tables.
bootstrap_slope`), and counts the transition test's rejections
(:func:`energy_routing.analysis.transition.detect_transition`) on disjoint groups of
critical trials, a false-positive rate with its Clopper-Pearson interval. The exact i.i.d.
theory of §11 is withheld (:func:`energy_routing.analysis.tables.exact_applies`).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import stats

from energy_routing.analysis.tables import bootstrap_slope, exact_applies
from energy_routing.analysis.transition import detect_transition
from energy_routing.theory import diffusion
from energy_routing.theory.moments import lemma2_long_run


def long_run_variance(block_means: np.ndarray, block_slots: int) -> tuple[float, float]:
    """Long-run variance of a stationary series by batch means [J^2/slot], with its
    standard error over trials.

    Each trial's blocks of ``b`` slots give ``b Var(block means)`` (ddof 1), which tends to
    ``lim Var(sum_{t<=T} C_t) / T`` when ``b`` is well past the correlation time; the
    estimate is the mean over trials and its standard error the trials' spread / sqrt(n).

    Parameters
    ----------
    block_means : ndarray, shape (trials, blocks)
        Mean of C_t over consecutive blocks [J], at least two blocks per trial.
    block_slots : int
        b [slots].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0, 2.0, size=(200, 40 * 50)).reshape(200, 40, 50).mean(axis=2)
    >>> v, se = long_run_variance(x, 50)
    >>> abs(v - 4.0) < 3 * se
    True
    """
    blocks = np.asarray(block_means, dtype=float)
    if blocks.ndim != 2 or blocks.shape[1] < 2 or blocks.shape[0] < 2:
        raise ValueError("block_means: expected (trials >= 2, blocks >= 2)")
    per_trial = block_slots * blocks.var(axis=1, ddof=1)
    return float(per_trial.mean()), float(per_trial.std(ddof=1) / math.sqrt(per_trial.size))


def _pairs(block_means: np.ndarray) -> np.ndarray:
    n = block_means.shape[1] // 2 * 2
    return block_means[:, :n].reshape(block_means.shape[0], -1, 2).mean(axis=2)


def _clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def regimes_summary(
    ds: xr.Dataset,
    *,
    group: int,
    alpha: float = 0.05,
    seed: int = 0,
    t_min: float = 100.0,
    slope_from_T: float | None = None,
) -> dict:
    """The ``serving_regimes`` entry of ``summary.json`` (docs/model.md §14.3).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`energy_routing.studies.serving.regimes_study`.
    group : int
        Trials per data set of the transition test.
    alpha : float
        Level of the test and of every interval.
    seed : int
        Seed of the bootstrap and the test's null simulation.
    t_min : float
        Smallest checkpoint the transition test uses [slots].
    slope_from_T : float, optional
        Where the large-T slopes are read from [slots]; default the upper half of log T.

    Returns
    -------
    dict
        ``sigma_long_run_J`` (sqrt of the harvest's variance plus the long-run variance of
        consumption) with its interval, the per-slot ``sigma_slot_J`` it replaces,
        ``mu_J_per_slot`` (realised drift at rho = 1, mean over trials) with its interval,
        ``t_star_slots`` with its interval, the diffusion's E[D_Tmax] against the Monte
        Carlo's, the large-T ``slope`` at rho = 1 with its bootstrap interval and whether it
        holds 0.5, the slope the diffusion predicts over the same window at the realised
        drift (rho = 1 is set on the trials' pooled mean, each trial drifts by its own), with
        its range over the drift's interval, the slope at every rho, and the transition
        test's false-positive rate on disjoint groups of critical trials with its
        Clopper-Pearson interval.
    """
    T = ds.time.to_numpy().astype(float)
    rhos = ds.provisioning.to_numpy()
    crit = int(np.flatnonzero(rhos == 1.0)[0])
    blocks = ds["block_mean_consumption_J"].to_numpy()
    b = int(ds.attrs["block_slots"])
    lrv_c, lrv_se = long_run_variance(blocks, b)
    lrv_2b, lrv_2b_se = long_run_variance(_pairs(blocks), 2 * b)
    harvest_var = float(ds.attrs["harvest_var_J2_per_slot"])
    z = stats.norm.ppf(1 - alpha / 2)
    drift = ds["realised_drift_J_per_slot"].to_numpy()[crit]
    n = drift.size
    mu = float(drift.mean())
    mu_half = float(stats.t.ppf(1 - alpha / 2, n - 1) * drift.std(ddof=1) / math.sqrt(n))
    c_bar = float(ds.attrs["consumption_mean_J_per_slot"])
    _, sigma = lemma2_long_run(c_bar + mu, harvest_var, c_bar, lrv_c)
    lrv_lo, lrv_hi = max(lrv_c - z * lrv_se, 0.0), lrv_c + z * lrv_se
    sig_lo, sig_hi = math.sqrt(harvest_var + lrv_lo), math.sqrt(harvest_var + lrv_hi)
    sigma_slot = math.sqrt(harvest_var + float(ds.attrs["consumption_var_J2_per_slot"]))
    mu_lo, mu_hi = mu - mu_half, mu + mu_half
    t_star = float(diffusion.crossover_time(mu, sigma))
    t_lo = float(diffusion.crossover_time(max(abs(mu_lo), abs(mu_hi)), sig_lo))
    t_hi = math.inf if mu_lo <= 0 <= mu_hi else float(
        diffusion.crossover_time(min(abs(mu_lo), abs(mu_hi)), sig_hi)
    )  # fmt: skip
    deficit = ds["deficit_J"].to_numpy()
    d_end = deficit[crit, :, -1]
    t_from = float(np.sqrt(T[0] * T[-1]) if slope_from_T is None else slope_from_T)
    slopes = []
    for a, rho in enumerate(rhos):
        run = deficit[a][np.isfinite(deficit[a]).all(axis=1)]
        s, lo, hi = bootstrap_slope(run, T, t_from, seed=seed, alpha=alpha)
        slopes.append({"provisioning": float(rho), "trials": int(run.shape[0]), "slope": s,
                       "slope_low": lo, "slope_high": hi})  # fmt: skip
    s_crit = slopes[crit]
    keep = T >= t_from
    x = np.log(T[keep]) - np.log(T[keep]).mean()

    def predicted_slope(m: float) -> float:
        y = np.log(diffusion.expected_deficit(m, sigma, T[keep]))
        return float(y @ x / (x @ x))

    pred = sorted(predicted_slope(m) for m in (mu_lo, mu, mu_hi))
    n_groups = n // group
    rejected = 0
    for g in range(n_groups):
        test = detect_transition(T, deficit[crit, g * group : (g + 1) * group], alpha=alpha,
                                 t_min=t_min, rng=seed)  # fmt: skip
        rejected += bool(test.transition_detected)
    fpr_lo, fpr_hi = _clopper_pearson(rejected, n_groups, alpha)
    return {
        "law": str(ds.attrs["law"]),
        "arrival_rate_per_s": float(ds.attrs["arrival_rate_per_s"]),
        "replicas": int(ds.attrs["replicas"]),
        "max_batch": int(ds.attrs["max_batch"]),
        "trials": int(n),
        "horizon_slots": int(T[-1]),
        "consumption_mean_J_per_slot": c_bar,
        "consumption_var_J2_per_slot": float(ds.attrs["consumption_var_J2_per_slot"]),
        "consumption_long_run_var_J2_per_slot": lrv_c,
        "consumption_long_run_var_sem": lrv_se,
        "consumption_long_run_var_2x_block": lrv_2b,
        "consumption_long_run_var_2x_block_sem": lrv_2b_se,
        "harvest_var_J2_per_slot": harvest_var,
        "sigma_long_run_J": sigma,
        "sigma_long_run_low": sig_lo,
        "sigma_long_run_high": sig_hi,
        "sigma_slot_J": sigma_slot,
        "mu_J_per_slot": mu,
        "mu_low": mu_lo,
        "mu_high": mu_hi,
        "t_star_slots": t_star if math.isfinite(t_star) else None,
        "t_star_low": t_lo,
        "t_star_high": t_hi if math.isfinite(t_hi) else None,
        "mc_D_Tmax_J": float(d_end.mean()),
        "mc_D_Tmax_sem": float(d_end.std(ddof=1) / math.sqrt(n)),
        "diffusion_D_Tmax_J": float(diffusion.expected_deficit(mu, sigma, T[-1])),
        "diffusion_slot_sigma_D_Tmax_J": float(diffusion.expected_deficit(mu, sigma_slot, T[-1])),
        "slope_from_T": t_from,
        "slope": s_crit["slope"],
        "slope_low": s_crit["slope_low"],
        "slope_high": s_crit["slope_high"],
        "slope_holds_half": bool(s_crit["slope_low"] <= 0.5 <= s_crit["slope_high"]),
        "diffusion_slope_at_mu": predicted_slope(mu),
        "diffusion_slope_low": pred[0] if mu_lo * mu_hi > 0 else min(pred[0], 0.5),
        "diffusion_slope_high": pred[-1],
        "slopes": slopes,
        "transition_groups": n_groups,
        "transition_group_trials": group,
        "transition_rejections": rejected,
        "transition_false_positive_rate": rejected / n_groups if n_groups else None,
        "transition_fpr_low": fpr_lo,
        "transition_fpr_high": fpr_hi,
        "alpha": alpha,
        "exact_theory": None if not exact_applies(None, batched=True) else "applies",
        "exact_withheld": "batched consumption is correlated from slot to slot; the exact "
        "theory of §11 needs i.i.d. increments",
    }
