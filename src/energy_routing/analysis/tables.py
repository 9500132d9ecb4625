"""From merged Monte Carlo datasets to tables: regimes, sweep slopes, theory curves and
Fig. 2's points (docs/model.md §7, §9, §11).

Pure functions of the datasets :func:`energy_routing.io.netcdf.merge_shards` writes:
:func:`regime_table` sets the calibrated transition test and the BIC fit of each routing
error and consumption mode beside the closed forms, :func:`theory_curves` gives the
diffusion, exact and corrected E[D_T] [J] that Fig. 4 draws, :func:`sweep_table` checks the
large-T slopes against Theorem 2, and :func:`deviation_points`, :func:`agreement_by_mode`
and :func:`exact_consistency` estimate and check Fig. 2's deviation g(r). The closed forms
come from :mod:`energy_routing.theory`, the mean curves from
:mod:`energy_routing.analysis.control_variate`, the fits and the test from
:mod:`energy_routing.analysis.fits` and :mod:`energy_routing.analysis.transition`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from energy_routing.analysis import fits as analysis_fits
from energy_routing.analysis import transition as analysis_transition
from energy_routing.analysis.control_variate import _curve, mean_deficit_curve
from energy_routing.theory import diffusion as theory_diffusion
from energy_routing.theory import exact as theory_exact
from energy_routing.theory import increment as theory_increment

#: Start of the regime fit, in longest service lengths (see :func:`fit_window`).
FIT_FROM_SERVICES = 10
#: Start of the large-T slope window, in crossover times T* (see :func:`slope_window`).
SLOPE_WINDOW_T_STAR = 300.0
#: The exponent of E[D_T] in T that Theorem 2 predicts for each regime.
PREDICTED_EXPONENT = {"deficit": 1.0, "critical": 0.5, "surplus": 0.0}


def fit_window(fit_from_T: float | None, service_slots: int) -> float:
    """First checkpoint of the regime fit [slots]: ``fit_from_T`` when set, else
    ``FIT_FROM_SERVICES`` times the longest service. Before that the walk is not yet
    diffusive: with distributed consumption a task's energy is still arriving, and the
    per-slot jumps are not yet small against the spread of B_t."""
    return float(fit_from_T if fit_from_T is not None else FIT_FROM_SERVICES * service_slots)


def regime_table(
    ds: xr.Dataset,
    *,
    bic_penalty: float,
    min_points: int,
    fit_from_T: float = 0.0,
    quantiles=(0.5, 0.9, 0.99),
    modes=("lumped", "distributed"),
    workload=None,
    seed: int = 0,
) -> pd.DataFrame:
    """Regime detection per routing error and consumption mode, beside the theory.

    One row per routing error and consumption mode in ``modes``: the analytic drift ``mu``
    [J/slot] and volatility ``sigma`` [J/slot^0.5], the crossover ``t_star`` [slots]; the
    calibrated transition test :func:`energy_routing.analysis.transition.detect_transition`
    on the checkpoints ``T >= fit_from_T`` [slots], its null drawn from the walk's own step
    law for lumped consumption when ``workload`` is given and i.i.d. (Brownian otherwise)
    (decision, p-value, breakpoint with its interval over resampled trials, detection
    frequency, and T* estimated from the realised per-trial drifts with its interval), next
    to the shape of the BIC segmented fit (:func:`energy_routing.analysis.fits.fit_regime`:
    ``a``, ``c``, both BICs and its own verdict ``bic_transition``); the mean deficit at
    T_max with its standard error next to the diffusion closed form and, for lumped
    consumption when ``workload`` (a :class:`~energy_routing.model.workload.Workload`) is
    given, the exact discrete value
    (:func:`energy_routing.theory.exact.exact_deficit_curve`, with its error bound) and the
    corrected diffusion (docs/model.md §11); ``mean_D_Tmax_J`` is the plain mean over
    trials, ``mean_D_Tmax_cv_J`` with ``sem_D_Tmax_cv_J`` the control-variate estimate
    (:func:`mean_deficit_curve`, docs/model.md §11.7) that the agreement with the exact
    value is judged by; the Kolmogorov-Smirnov distance of D_Tmax to the closed form; and
    for each ``q`` the empirical reserve (the q-quantile of D_Tmax over trials) next to
    :func:`energy_routing.theory.diffusion.deficit_quantile` [J].
    """
    rows = []
    t_max = float(ds.time[-1])
    for eps in ds.routing_error.to_numpy():
        for mode in modes:
            T, y, se, mu, sigma = _curve(ds, eps, mode)
            k = T >= fit_from_T
            fit = analysis_fits.fit_regime(
                T[k], y[k], se[k], bic_penalty=bic_penalty, min_points=min_points
            )
            sel = ds.sel(routing_error=eps, consumption=mode)
            test = analysis_transition.detect_transition(
                T,
                sel.deficit_J.transpose("trial", "time").to_numpy(),
                mu_samples=sel.realised_drift_J_per_slot.to_numpy(),
                sigma=sigma,
                drift_horizon=t_max,
                t_min=float(T[k][0]),
                bic_penalty=bic_penalty,
                min_points=min_points,
                rng=seed,
                null_law=_null_law(workload if mode == "lumped" else None),
            )
            final = sel.deficit_J.isel(time=-1).to_numpy()
            row = {
                "routing_error": float(eps),
                "consumption": str(mode),
                "mu": mu,
                "sigma": sigma,
                "regime": theory_diffusion.regime(mu),
                "t_star": float(theory_diffusion.crossover_time(mu, sigma)),
                **fit.as_dict(),
                "bic_transition": fit.transition_detected,
                "bic_breakpoint_T": fit.breakpoint_T,
                **_test_columns(test),
                "fit_from_T": float(T[k][0]),
                "t_max": t_max,
                "mean_D_Tmax_J": float(y[-1]),
                "sem_D_Tmax_J": float(se[-1]),
                **_cv_columns(ds, eps, mode),
                "closed_form_D_Tmax_J": float(theory_diffusion.expected_deficit(mu, sigma, t_max)),
                **_exact_columns(workload if mode == "lumped" else None, eps, mu, sigma, t_max),
            }
            row["ks_distance"] = ks_distance(final, mu, sigma, t_max)
            for q in quantiles:
                row[f"reserve_q{q:g}_mc_J"] = float(np.quantile(final, q))
                row[f"reserve_q{q:g}_theory_J"] = float(
                    theory_diffusion.deficit_quantile(q, mu, sigma, t_max)
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _null_law(workload):
    """The critical step law for the transition test's null (docs/model.md §11.6): the
    lumped increment law where the exact theory applies, else None (the Brownian null)."""
    return theory_increment.increment_law(workload, 0.0) if exact_applies(workload) else None


def _cv_columns(ds: xr.Dataset, eps: float, mode: str) -> dict:
    """The control-variate mean deficit at T_max and its standard error [J]."""
    y, se = mean_deficit_curve(ds, eps, mode, "control_variate")
    return {"mean_D_Tmax_cv_J": float(y[-1]), "sem_D_Tmax_cv_J": float(se[-1])}


#: The transition test's columns of the regime table, in order (the summary part and the
#: report show them under these names).
TRANSITION_COLUMNS = (
    "transition_detected",
    "p_value",
    "breakpoint_T",
    "breakpoint_low",
    "breakpoint_high",
    "detection_frequency",
    "t_star_estimate",
    "t_star_low",
    "t_star_high",
)


def _test_columns(test) -> dict:
    """The transition test's decision and intervals as table columns."""
    values = (
        bool(test.transition_detected),
        float(test.p_value),
        float(test.breakpoint_T),
        float(test.breakpoint_interval[0]),
        float(test.breakpoint_interval[1]),
        float(test.detection_frequency),
        float(test.t_star_estimate),
        float(test.t_star_interval[0]),
        float(test.t_star_interval[1]),
    )
    return dict(zip(TRANSITION_COLUMNS, values, strict=True))


def exact_applies(workload, batched: bool = False) -> bool:
    """Whether the exact theory covers a workload: it needs i.i.d. slots with a Gamma
    harvest (a positive harvest variance, no correlated or solar harvest and no daily load
    cycle; docs/model.md §11, §13) and consumption independent from slot to slot, which
    batched serving is not (``batched``, docs/model.md §14.3)."""
    return (
        not batched
        and workload is not None
        and workload.harvest_var_J2 > 0
        and workload.supply is None
    )


def _exact_columns(workload, eps: float, mu: float, sigma: float, t_max: float) -> dict:
    """Exact discrete E[D_Tmax] with its bound and the corrected diffusion [J]; NaN where
    no exact law applies (distributed consumption, a deterministic harvest, or no
    workload given)."""
    if not exact_applies(workload):
        return {"exact_D_Tmax_J": np.nan, "exact_bound_J": np.nan, "corrected_D_Tmax_J": np.nan}
    exact = theory_exact.exact_deficit_curve(workload, float(eps), int(t_max))
    offset = theory_exact.ladder_offset(workload, float(eps))
    return {
        "exact_D_Tmax_J": float(exact.expected_J),
        "exact_bound_J": float(exact.error_bound_J),
        "corrected_D_Tmax_J": float(
            theory_diffusion.corrected_expected_deficit(mu, sigma, t_max, offset)
        ),
    }


def theory_curves(ds: xr.Dataset, workload) -> pd.DataFrame:
    """The curves Fig. 4 draws beside the Monte Carlo, per routing error and checkpoint T:
    diffusion, exact discrete walk (lumped consumption) with its error bound, and the
    corrected diffusion [J] (docs/model.md §7, §11); the last three NaN where the exact
    theory does not apply (:func:`exact_applies`)."""
    frames = []
    nan = np.full(ds.sizes["time"], np.nan)
    T = ds.time.to_numpy().astype(np.int64)
    for eps in ds.routing_error.to_numpy():
        sel = ds.sel(routing_error=eps)
        mu, sigma = float(sel.mu_J_per_slot), float(sel.sigma_J_per_sqrt_slot)
        if exact_applies(workload):
            exact = theory_exact.exact_deficit_curve(workload, float(eps), T)
            offset = theory_exact.ladder_offset(workload, float(eps))
            curve, bound = exact.expected_J, exact.error_bound_J
            corrected = theory_diffusion.corrected_expected_deficit(
                mu, sigma, T.astype(float), offset
            )
        else:
            curve, bound, corrected = nan, nan, nan
        frames.append(
            pd.DataFrame(
                {
                    "routing_error": float(eps),
                    "T": T,
                    "diffusion_J": theory_diffusion.expected_deficit(mu, sigma, T.astype(float)),
                    "exact_J": curve,
                    "exact_bound_J": bound,
                    "corrected_J": corrected,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def ks_distance(samples: np.ndarray, mu: float, sigma: float, T: float) -> float:
    """Largest gap between the empirical CDF of D_T samples [J] and the closed form [-].

    The Kolmogorov-Smirnov statistic against :func:`energy_routing.theory.diffusion.deficit_cdf`,
    evaluated on both sides of every jump of the empirical CDF.
    """
    d = np.sort(np.asarray(samples, dtype=float))
    n = d.size
    cdf = theory_diffusion.deficit_cdf(d, mu, sigma, T)
    above = np.arange(1, n + 1) / n - cdf
    below = cdf - np.arange(n) / n
    return float(max(above.max(), below.max()))


def bootstrap_slope(
    deficit: np.ndarray,
    T: np.ndarray,
    t_from: float,
    *,
    n_boot: int = 400,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Log-log slope of the mean deficit over ``T >= t_from``, with a trial bootstrap.

    The checkpoints of one curve share their paths, so a regression's standard error is
    too small; resampling whole trials keeps that correlation. Returns the slope of the
    full-sample mean curve and the ``alpha/2`` and ``1 - alpha/2`` percentiles of the
    bootstrap slopes [-].

    Parameters
    ----------
    deficit : numpy.ndarray (trial, time)
        D_t per trial [J].
    T : numpy.ndarray (time,)
        Checkpoints [slots].
    """
    keep = T >= t_from
    x = np.log(T[keep])
    rng = np.random.default_rng(seed)
    n = deficit.shape[0]
    idx = rng.integers(0, n, size=(n_boot, n))
    means = deficit[:, keep][idx].mean(axis=1)  # (boot, time)
    means = np.maximum(means, np.finfo(float).tiny)
    xc = x - x.mean()
    boot = (np.log(means) @ xc) / (xc @ xc)
    full = np.maximum(deficit[:, keep].mean(axis=0), np.finfo(float).tiny)
    point = float(np.log(full) @ xc / (xc @ xc))
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    # A flat curve (a surplus path past its minimum) gives slopes of pure round-off.
    pad = 1e-9
    return point, float(min(lo, point) - pad), float(max(hi, point) + pad)


def slope_window(T: np.ndarray, mu: float, sigma: float, slope_from_T: float | None) -> float:
    """Where the large-T slope is read [slots]: ``slope_from_T`` when set; else the upper
    half of log T, moved on to ``SLOPE_WINDOW_T_STAR`` crossover times when the drift is
    not zero, keeping at least five checkpoints.

    In a deficit E[D_T] ~ |mu| T + sigma^2 / (2 |mu|): the offset is (pi / 4) T* / T of the
    linear term, so the log-log slope is within 0.3% of its limit 1 only past ~300 T*.
    """
    if slope_from_T is not None:
        return float(slope_from_T)
    start = np.sqrt(T[0] * T[-1])
    if mu != 0:
        start = max(start, SLOPE_WINDOW_T_STAR * float(theory_diffusion.crossover_time(mu, sigma)))
    return float(min(start, T[-5]))


def sweep_table(
    datasets: dict[str, xr.Dataset], *, slope_from_T=None, modes=("lumped",), seed: int = 0
) -> pd.DataFrame:
    """Theorem 2 side by side: one row per provisioning scenario and consumption mode.

    Columns: ``provisioning`` rho [-], ``consumption``, ``mu``, ``sigma``, the predicted
    ``regime`` and ``predicted_exponent``, the fitted large-T ``slope`` with its bootstrap interval
    (``slope_low``, ``slope_high``), the statsmodels fit (``slope_ols``,
    ``slope_ols_se``), the slope of the closed form over the same window
    (``closed_form_slope``: the finite-T value the asymptotic exponent is approached
    from), and ``agrees`` (the asymptotic exponent lies in the interval).
    """
    rows = []
    for (name, ds), mode in itertools.product(datasets.items(), modes):
        eps = float(ds.routing_error[0])
        T, y, se, mu, sigma = _curve(ds, eps, mode)
        t_from = slope_window(T, mu, sigma, slope_from_T)
        per_trial = ds.deficit_J.sel(routing_error=eps, consumption=mode)
        slope, lo, hi = bootstrap_slope(
            per_trial.transpose("trial", "time").to_numpy(), T, t_from, seed=seed
        )
        # A surplus curve that starts at zero has no logarithm: no regression slope there.
        positive = bool(np.all(y > 0))
        ols = analysis_fits.loglog_slope(T, y, se, t_from=t_from) if positive else None
        reg = theory_diffusion.regime(mu)
        window = T[T >= t_from]
        closed = theory_diffusion.expected_deficit(mu, sigma, window)
        rows.append(
            {
                "scenario": name,
                "provisioning": float(ds.attrs.get("provisioning", np.nan)),
                "routing_error": eps,
                "consumption": mode,
                "mu": mu,
                "sigma": sigma,
                "regime": reg,
                "predicted_exponent": PREDICTED_EXPONENT[reg],
                "t_from": t_from,
                "slope": slope,
                "slope_low": lo,
                "slope_high": hi,
                "slope_ols": ols.slope if ols else np.nan,
                "slope_ols_se": ols.slope_se if ols else np.nan,
                "closed_form_slope": float(np.polyfit(np.log(window), np.log(closed), 1)[0]),
                "agrees": bool(lo <= PREDICTED_EXPONENT[reg] <= hi),
            }
        )
    table = pd.DataFrame(rows).sort_values(["consumption", "provisioning"], kind="stable")
    return table.reset_index(drop=True)


def deviation_points(
    datasets: dict[str, xr.Dataset],
    *,
    modes=("lumped",),
    r_max=4.0,
    per_scenario=25,
    from_T: float = 0.0,
    workloads: dict | None = None,
    estimator: str = "control_variate",
) -> pd.DataFrame:
    """Monte Carlo estimates of Fig. 2's deviation g(r) (docs/model.md §7).

    Every checkpoint T >= ``from_T`` [slots] of every scenario gives a point
    r = mu sqrt(T) / sigma, g = (mean D_T - max(0, -mu T)) / (sigma sqrt(2T/pi)) with its
    standard error; points with |r| <= r_max are kept, thinned to about ``per_scenario``
    per scenario and mode. Pass the fit window (:func:`fit_window`) as ``from_T``: before
    it the distributed walk is not yet diffusive, and no closed form applies. With
    ``workloads`` (by scenario name), lumped points get ``g_exact``, the same deviation of
    the exact discrete E[D_T] (docs/model.md §11); NaN otherwise.

    ``g`` and ``g_sem`` come from the mean deficit of ``estimator`` (the control variate by
    default, :func:`mean_deficit_curve`); ``g_plain`` and ``g_plain_sem`` always from the
    plain mean over trials [-].
    """
    frames = []
    for (name, ds), mode in itertools.product(datasets.items(), modes):
        for eps in ds.routing_error.to_numpy():
            T, y, se, mu, sigma = _curve(ds, eps, mode, estimator)
            _, y0, se0, _, _ = _curve(ds, eps, mode, "plain")
            scale = sigma * np.sqrt(2 * T / np.pi)
            r = mu * np.sqrt(T) / sigma
            keep = np.flatnonzero((np.abs(r) <= r_max) & (T >= from_T))
            keep = keep[:: max(1, len(keep) // per_scenario)]
            frames.append(
                pd.DataFrame(
                    {
                        "scenario": name,
                        "consumption": mode,
                        "routing_error": float(eps),
                        "T": T[keep],
                        "r": r[keep],
                        "g": (y[keep] - np.maximum(0.0, -mu * T[keep])) / scale[keep],
                        "g_sem": se[keep] / scale[keep],
                        "g_plain": (y0[keep] - np.maximum(0.0, -mu * T[keep])) / scale[keep],
                        "g_plain_sem": se0[keep] / scale[keep],
                        "g_exact": _g_exact(workloads, name, mode, eps, mu, T[keep], scale[keep]),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _g_exact(workloads, name, mode, eps, mu, T, scale):
    """Fig. 2's deviation of the exact discrete E[D_T] at the points' horizons [-]."""
    if not workloads or mode != "lumped" or not exact_applies(workloads.get(name)):
        return np.full(T.shape, np.nan)
    exact = theory_exact.exact_deficit_curve(workloads[name], float(eps), T.astype(np.int64))
    return (exact.expected_J - np.maximum(0.0, -mu * T)) / scale


def _estimate_columns(points: pd.DataFrame, plain: bool) -> tuple[str, str]:
    """The deviation and standard-error columns of the plain mean or of the shown one."""
    return ("g_plain", "g_plain_sem") if plain else ("g", "g_sem")


def agreement_by_mode(
    points: pd.DataFrame, against: str = "diffusion", *, plain: bool = False
) -> dict[str, float]:
    """Fraction of Fig. 2's Monte Carlo points within 2 standard errors of the closed-form
    deviation g(r) (``against="diffusion"``) or of the exact discrete walk's
    (``"exact"``, where ``g_exact`` is known), per consumption mode [-]. The points'
    estimate as shown (``g``, ``g_sem``; the control variate by default) or, with
    ``plain``, the plain mean over trials (``g_plain``, ``g_plain_sem``)."""
    g, sem = _estimate_columns(points, plain)
    if against == "exact":
        points = points[np.isfinite(points["g_exact"])]
        ref = points["g_exact"]
    else:
        ref = theory_diffusion.deviation_g(points["r"])
    if not len(points):
        return {}
    inside = (points[g] - ref).abs() <= 2 * points[sem]
    return {str(m): float(v) for m, v in inside.groupby(points["consumption"]).mean().items()}


def exact_consistency(points: pd.DataFrame, *, plain: bool = False) -> dict:
    """An independent check of the Monte Carlo against the exact discrete walk: the
    points of one curve share their trials (neighbouring checkpoints are correlated at
    ~0.98), so the share of points within two standard errors is noisy; the z-score of
    each scenario's last point, z = (g - g_exact) / g_sem, is one independent N(0, 1)
    draw per scenario when the theory is right. Returns those z [-] by scenario
    (``z_at_last_point``) with the horizon of each point (``t_at_last_point`` [slots]: the
    last thinned point of Fig. 2, which need not be T_max), their chi-square sum and its
    p-value (lumped consumption, where ``g_exact`` is known); of the shown estimate, or of
    the plain mean with ``plain``."""
    g, sem = _estimate_columns(points, plain)
    pts = points[np.isfinite(points.get("g_exact", pd.Series(dtype=float)))]
    if not len(pts):
        return {}
    last = pts.sort_values("T").groupby(["scenario", "routing_error"]).tail(1)
    last = last.sort_values(["scenario", "routing_error"])
    z = (last[g] - last["g_exact"]) / last[sem]
    chi2 = float((z**2).sum())
    return {
        "z_at_last_point": {str(k): float(v) for k, v in zip(last["scenario"], z, strict=True)},
        "t_at_last_point": {
            str(k): float(v) for k, v in zip(last["scenario"], last["T"], strict=True)
        },
        "chi2": chi2,
        "dof": len(z),
        "p_value": float(stats.chi2.sf(chi2, len(z))),
    }
