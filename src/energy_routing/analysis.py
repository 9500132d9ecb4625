"""From merged Monte Carlo datasets to tables: regimes, sweep slopes, Fig. 2 points.

Pure functions of :mod:`xarray` datasets written by :func:`energy_routing.mcio.merge_shards`;
the closed forms come from :mod:`energy_routing.theory` and the fits from
:mod:`energy_routing.regimes`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from energy_routing import regimes, theory

#: Start of the regime fit, in longest service lengths (see :func:`fit_window`).
FIT_FROM_SERVICES = 10
#: Start of the large-T slope window, in crossover times T* (see :func:`slope_window`).
SLOPE_WINDOW_T_STAR = 300.0
#: The exponent of E[D_T] in T that Theorem 2 predicts for each regime.
PREDICTED_EXPONENT = {"deficit": 1.0, "critical": 0.5, "surplus": 0.0}


#: Trials per control variate of the mean deficit curve (see
#: :func:`deficit_curve_with_controls`): fitting p coefficients on n trials inflates the
#: estimate's variance by about (n - 2) / (n - p - 2), under 6 % at p = n / 20.
TRIALS_PER_CONTROL = 20
#: The estimators of the mean deficit curve (see :func:`mean_deficit_curve`).
ESTIMATORS = ("plain", "control_variate")


@dataclass(frozen=True)
class ControlVariateEstimate:
    """A mean with a control variate (docs/model.md §11.7), per column.

    Attributes
    ----------
    mean : numpy.ndarray
        The control-variate estimate of E[Y], in the units of Y.
    sem : numpy.ndarray
        Its standard error, in the units of Y.
    beta : numpy.ndarray
        The fitted coefficients of Y on the controls (cov(Y, X) / var(X) for one control),
        in units of Y per unit of X.
    plain_mean, plain_sem : numpy.ndarray
        The plain sample mean of Y and its standard error std(Y, ddof=1) / sqrt(n).
    """

    mean: np.ndarray
    sem: np.ndarray
    beta: np.ndarray
    plain_mean: np.ndarray
    plain_sem: np.ndarray


def control_variate_mean(samples, control, control_mean) -> ControlVariateEstimate:
    """Mean of ``samples`` with one or several control variates of known mean
    (docs/model.md §11.7).

    Each trial i contributes u_i = y_i - beta_(-i) . (x_i - E[X]), with beta_(-i) the
    least-squares coefficients of Y on the controls X fitted on the other trials
    (leave-one-out, by rank-one downdates of the centred sums); the estimate is mean(u)
    and its standard error std(u, ddof=1) / sqrt(n). Because beta_(-i) does not depend on
    trial i, every u_i has mean E[Y] exactly: fitting beta on the same trials would bias
    the mean by O(1/n) whenever Y is not linear in X (as D_T is not in S_T). The variance
    of the estimate is that of the residual of Y about its best linear fit in X,
    var(Y) (1 - R^2) / n, to leading order. A control that does not vary gets beta = 0;
    with no varying control the estimate is the plain mean.

    Parameters
    ----------
    samples : array_like (trial, ...)
        Y per trial, e.g. the deficit D_T [J] at each checkpoint.
    control : array_like (trial, ...) or (trial, ..., control)
        X per trial: one control per column of ``samples`` (same shape), or several
        (one trailing axis more), e.g. the free walk positions S_t = B_t [J] at t <= T.
    control_mean : array_like, broadcast to the shape of ``control`` without its trial axis
        The exact E[X], e.g. mu t [J] for lumped consumption.

    Returns
    -------
    ControlVariateEstimate
        ``beta`` is the fit on all trials (a trailing control axis when there are several
        controls). Needs at least three trials.
    """
    y = np.asarray(samples, dtype=float)
    x = np.asarray(control, dtype=float)
    several = x.ndim == y.ndim + 1
    if (x.shape[:-1] if several else x.shape) != y.shape:
        raise ValueError(f"samples {y.shape} and control {x.shape} differ in shape")
    n = y.shape[0]
    if n < 3:
        raise ValueError(f"a control variate needs at least 3 trials, got {n}")
    known = np.broadcast_to(np.asarray(control_mean, dtype=float), x.shape[1:])
    if not several:
        x, known = x[..., None], known[..., None]
    ym, xm = y.mean(axis=0), x.mean(axis=0)
    dy, dx = y - ym, x - xm
    sxx = np.einsum("i...p,i...q->...pq", dx, dx)
    sxy = np.einsum("i...p,i...->...p", dx, dy)
    # Leave trial i out: the centred sums lose n / (n - 1) times its own products.
    c = n / (n - 1)
    loo_xx = sxx - c * dx[..., :, None] * dx[..., None, :]
    loo_xy = sxy - c * dx * dy[..., None]
    # A control with no spread (to round-off) carries no information.
    floor = 1e-24 * n * np.maximum(xm * xm, np.finfo(float).tiny)
    beta_loo = _least_squares(loo_xx, loo_xy, floor)
    beta = _least_squares(sxx, sxy, floor)
    u = y - np.einsum("i...p,i...p->i...", beta_loo, x - known)
    return ControlVariateEstimate(
        mean=u.mean(axis=0),
        sem=u.std(axis=0, ddof=1) / np.sqrt(n),
        beta=beta if several else beta[..., 0],
        plain_mean=ym,
        plain_sem=y.std(axis=0, ddof=1) / np.sqrt(n),
    )


def _least_squares(sxx, sxy, floor):
    """Coefficients solving ``sxx @ beta = sxy`` over the last axes; a control whose
    ``sxx`` diagonal is at most ``floor`` gets 0, and collinear controls share their
    coefficient (minimum-norm solution). The system is scaled to unit diagonal first, so
    controls of very different sizes do not spoil the conditioning."""
    p = sxx.shape[-1]
    diag = np.diagonal(sxx, axis1=-2, axis2=-1)
    varies = diag > floor
    scale = np.where(varies, 1.0 / np.sqrt(np.where(varies, diag, 1.0)), 0.0)
    a = sxx * scale[..., :, None] * scale[..., None, :]
    a = a + np.where(varies, 0.0, 1.0)[..., None] * np.eye(p)
    if p == 1:
        return scale * (sxy * scale) / a[..., 0]
    try:
        return scale * np.linalg.solve(a, (sxy * scale)[..., None])[..., 0]
    except np.linalg.LinAlgError:  # exactly collinear controls: the minimum-norm solution
        inv = np.linalg.pinv(a, hermitian=True)
        return scale * np.einsum("...pq,...q->...p", inv, sxy * scale)


def dyadic_controls(checkpoints, max_controls: int | None = None) -> tuple[np.ndarray, ...]:
    """For each checkpoint T, the indices of the checkpoints nearest (in log T) to T, T/2,
    T/4, ... down to the first checkpoint, without repeats: the walk positions the mean
    deficit at T is regressed on (docs/model.md §11.7).

    ``checkpoints`` [slots] must be positive and increasing. The positions at T and at a
    few earlier times on a doubling scale carry most of what the walk's path says about
    its running minimum, for any drift: at the critical point and in a deficit the late
    positions matter, in a surplus the early ones, where the minimum is reached. With
    ``max_controls``, a longer set is thinned evenly along its doubling scale, keeping T
    itself (one control: the position at T alone).

    Examples
    --------
    >>> [i.tolist() for i in dyadic_controls([10, 20, 30, 40, 80])]
    [[0], [0, 1], [1, 2], [0, 1, 3], [0, 1, 3, 4]]
    """
    T = np.asarray(checkpoints, dtype=float)
    if T.ndim != 1 or T.size == 0 or T[0] <= 0 or np.any(np.diff(T) <= 0):
        raise ValueError("checkpoints: a positive, increasing 1-D array is needed")
    logT = np.log(T)
    out = []
    for j, t in enumerate(T):
        halvings = np.arange(int(np.floor(np.log2(t / T[0]) + 1e-9)) + 1)
        targets = np.log(t) - halvings * np.log(2.0)
        nearest = np.unique(np.abs(logT[: j + 1][None, :] - targets[:, None]).argmin(axis=1))
        if max_controls is not None and nearest.size > max_controls:
            keep = np.round(np.linspace(0, nearest.size - 1, max(1, max_controls)))
            nearest = np.sort(nearest[::-1][np.unique(keep.astype(int))])
        out.append(nearest)
    return tuple(out)


def mean_deficit_curve(ds: xr.Dataset, eps: float, mode: str, estimator: str = "control_variate"):
    """Mean deficit E[D_T] [J] and its standard error [J] at every checkpoint of one routing
    error ``eps`` and consumption ``mode`` of a merged dataset.

    ``"plain"``: the mean over trials (the dataset's ``deficit_mean_J`` and
    ``deficit_sem_J``). ``"control_variate"``: :func:`control_variate_mean` with the free
    lumped walk positions B_t of the same trial at the checkpoints t of
    :func:`dyadic_controls` (T, T/2, T/4, ...) as controls, whose means mu t are exact
    (docs/model.md §11.7); the distributed walk is driven by the same harvest and tasks, so
    the lumped positions serve both modes. Falls back to plain when the dataset holds no
    lumped battery or fewer than three trials.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator: one of {ESTIMATORS}, got {estimator!r}")
    sel = ds.sel(routing_error=eps, consumption=mode)
    plain = sel.deficit_mean_J.to_numpy(), sel.deficit_sem_J.to_numpy()
    usable = "battery_J" in ds and "lumped" in ds.consumption.to_numpy()
    if estimator == "plain" or not usable or ds.sizes["trial"] < 3:
        return plain
    lumped = ds.battery_J.sel(routing_error=eps, consumption="lumped")
    return deficit_curve_with_controls(
        sel.deficit_J.transpose("trial", "time").to_numpy(),
        lumped.transpose("trial", "time").to_numpy(),
        float(sel.mu_J_per_slot),
        sel.time.to_numpy(),
    )


def deficit_curve_with_controls(deficits, positions, mu, checkpoints):
    """Control-variate mean deficit [J] and its standard error [J] at each checkpoint.

    ``deficits`` and ``positions`` are (trial, checkpoint) arrays of D_T [J] and of the
    free lumped walk position S_T = B_T [J]; ``mu`` [J/slot] is the walk's exact drift, so
    E[S_t] = mu t; ``checkpoints`` [slots]. At each T the controls are the positions at
    :func:`dyadic_controls`, at most one per :data:`TRIALS_PER_CONTROL` trials
    (docs/model.md §11.7).
    """
    d = np.asarray(deficits, dtype=float)
    b = np.asarray(positions, dtype=float)
    T = np.asarray(checkpoints, dtype=float)
    mean, sem = np.empty(T.size), np.empty(T.size)
    for j, idx in enumerate(dyadic_controls(T, max(1, len(d) // TRIALS_PER_CONTROL))):
        est = control_variate_mean(d[:, j], b[:, idx], mu * T[idx])
        mean[j], sem[j] = est.mean, est.sem
    return mean, sem


def _curve(ds: xr.Dataset, eps: float, mode: str, estimator: str = "plain"):
    """Checkpoints T [slots], mean D_T and its standard error [J] (``estimator``, see
    :func:`mean_deficit_curve`), analytic mu [J/slot] and sigma [J/slot^0.5]."""
    sel = ds.sel(routing_error=eps, consumption=mode)
    y, se = mean_deficit_curve(ds, eps, mode, estimator)
    return (
        sel.time.to_numpy().astype(float),
        y,
        se,
        float(sel.mu_J_per_slot),
        float(sel.sigma_J_per_sqrt_slot),
    )


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

    One row per routing error and consumption mode in ``modes``: the analytic drift
    ``mu`` [J/slot] and volatility ``sigma`` [J/slot^0.5], the crossover ``t_star``
    [slots]; the calibrated transition test :func:`energy_routing.regimes.detect_transition`
    on the checkpoints ``T >= fit_from_T`` [slots] (decision, p-value, breakpoint with its
    interval over resampled trials, detection frequency, and T* estimated from the
    realised per-trial drifts with its interval), next to the shape of the BIC segmented
    fit (:func:`energy_routing.regimes.fit_regime`: ``a``, ``c``, both BICs and its own
    verdict ``bic_transition``); the mean deficit at T_max with its standard error next to
    the diffusion closed form and, for lumped consumption when ``workload`` (a
    :class:`~energy_routing.montecarlo.Workload`) is given, the exact discrete value
    (:func:`energy_routing.theory.exact_deficit_curve`, with its error bound) and the
    corrected diffusion (docs/model.md §11); ``mean_D_Tmax_J`` is the plain mean over
    trials, ``mean_D_Tmax_cv_J`` with ``sem_D_Tmax_cv_J`` the control-variate estimate
    (:func:`mean_deficit_curve`, docs/model.md §11.7) that the agreement with the exact
    value is judged by; the Kolmogorov-Smirnov distance of D_Tmax to
    the closed form; and for each ``q`` the empirical reserve (the q-quantile of D_Tmax
    over trials) next to :func:`energy_routing.theory.deficit_quantile` [J].
    """
    rows = []
    t_max = float(ds.time[-1])
    for eps in ds.routing_error.to_numpy():
        for mode in modes:
            T, y, se, mu, sigma = _curve(ds, eps, mode)
            k = T >= fit_from_T
            fit = regimes.fit_regime(
                T[k], y[k], se[k], bic_penalty=bic_penalty, min_points=min_points
            )
            sel = ds.sel(routing_error=eps, consumption=mode)
            test = regimes.detect_transition(
                T,
                sel.deficit_J.transpose("trial", "time").to_numpy(),
                mu_samples=sel.realised_drift_J_per_slot.to_numpy(),
                sigma=sigma,
                drift_horizon=t_max,
                t_min=float(T[k][0]),
                bic_penalty=bic_penalty,
                min_points=min_points,
                rng=seed,
            )
            final = sel.deficit_J.isel(time=-1).to_numpy()
            row = {
                "routing_error": float(eps),
                "consumption": str(mode),
                "mu": mu,
                "sigma": sigma,
                "regime": theory.regime(mu),
                "t_star": float(theory.crossover_time(mu, sigma)),
                **fit.as_dict(),
                "bic_transition": fit.transition_detected,
                "bic_breakpoint_T": fit.breakpoint_T,
                **_test_columns(test),
                "fit_from_T": float(T[k][0]),
                "t_max": t_max,
                "mean_D_Tmax_J": float(y[-1]),
                "sem_D_Tmax_J": float(se[-1]),
                **_cv_columns(ds, eps, mode),
                "closed_form_D_Tmax_J": float(theory.expected_deficit(mu, sigma, t_max)),
                **_exact_columns(workload if mode == "lumped" else None, eps, mu, sigma, t_max),
            }
            row["ks_distance"] = ks_distance(final, mu, sigma, t_max)
            for q in quantiles:
                row[f"reserve_q{q:g}_mc_J"] = float(np.quantile(final, q))
                row[f"reserve_q{q:g}_theory_J"] = float(
                    theory.deficit_quantile(q, mu, sigma, t_max)
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _cv_columns(ds: xr.Dataset, eps: float, mode: str) -> dict:
    """The control-variate mean deficit at T_max and its standard error [J]."""
    y, se = mean_deficit_curve(ds, eps, mode, "control_variate")
    return {"mean_D_Tmax_cv_J": float(y[-1]), "sem_D_Tmax_cv_J": float(se[-1])}


def _test_columns(test) -> dict:
    """The transition test's decision and intervals as table columns."""
    return {
        "transition_detected": bool(test.transition_detected),
        "p_value": float(test.p_value),
        "breakpoint_T": float(test.breakpoint_T),
        "breakpoint_low": float(test.breakpoint_interval[0]),
        "breakpoint_high": float(test.breakpoint_interval[1]),
        "detection_frequency": float(test.detection_frequency),
        "t_star_estimate": float(test.t_star_estimate),
        "t_star_low": float(test.t_star_interval[0]),
        "t_star_high": float(test.t_star_interval[1]),
    }


def exact_applies(workload) -> bool:
    """Whether the exact theory covers a workload: it needs i.i.d. slots with a Gamma
    harvest (a positive harvest variance, no correlated or solar harvest and no daily load
    cycle; docs/model.md §11, §13)."""
    return workload is not None and workload.harvest_var_J2 > 0 and workload.supply is None


def _exact_columns(workload, eps: float, mu: float, sigma: float, t_max: float) -> dict:
    """Exact discrete E[D_Tmax] with its bound and the corrected diffusion [J]; NaN where
    no exact law applies (distributed consumption, a deterministic harvest, or no
    workload given)."""
    if not exact_applies(workload):
        return {"exact_D_Tmax_J": np.nan, "exact_bound_J": np.nan, "corrected_D_Tmax_J": np.nan}
    exact = theory.exact_deficit_curve(workload, float(eps), int(t_max))
    offset = theory.ladder_offset(workload, float(eps))
    return {
        "exact_D_Tmax_J": float(exact.expected_J),
        "exact_bound_J": float(exact.error_bound_J),
        "corrected_D_Tmax_J": float(theory.corrected_expected_deficit(mu, sigma, t_max, offset)),
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
            exact = theory.exact_deficit_curve(workload, float(eps), T)
            offset = theory.ladder_offset(workload, float(eps))
            curve, bound = exact.expected_J, exact.error_bound_J
            corrected = theory.corrected_expected_deficit(mu, sigma, T.astype(float), offset)
        else:
            curve, bound, corrected = nan, nan, nan
        frames.append(
            pd.DataFrame(
                {
                    "routing_error": float(eps),
                    "T": T,
                    "diffusion_J": theory.expected_deficit(mu, sigma, T.astype(float)),
                    "exact_J": curve,
                    "exact_bound_J": bound,
                    "corrected_J": corrected,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def ks_distance(samples: np.ndarray, mu: float, sigma: float, T: float) -> float:
    """Largest gap between the empirical CDF of D_T samples [J] and the closed form [-].

    The Kolmogorov-Smirnov statistic against :func:`energy_routing.theory.deficit_cdf`,
    evaluated on both sides of every jump of the empirical CDF.
    """
    d = np.sort(np.asarray(samples, dtype=float))
    n = d.size
    cdf = theory.deficit_cdf(d, mu, sigma, T)
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
        start = max(start, SLOPE_WINDOW_T_STAR * float(theory.crossover_time(mu, sigma)))
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
        ols = regimes.loglog_slope(T, y, se, t_from=t_from) if positive else None
        reg = theory.regime(mu)
        window = T[T >= t_from]
        closed = theory.expected_deficit(mu, sigma, window)
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
    exact = theory.exact_deficit_curve(workloads[name], float(eps), T.astype(np.int64))
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
        ref = theory.deviation_g(points["r"])
    if not len(points):
        return {}
    inside = (points[g] - ref).abs() <= 2 * points[sem]
    return {str(m): float(v) for m, v in inside.groupby(points["consumption"]).mean().items()}


def exact_consistency(points: pd.DataFrame, *, plain: bool = False) -> dict:
    """An independent check of the Monte Carlo against the exact discrete walk: the
    points of one curve share their trials (neighbouring checkpoints are correlated at
    ~0.98), so the share of points within two standard errors is noisy; the z-score of
    each scenario's last point, z = (g - g_exact) / g_sem, is one independent N(0, 1)
    draw per scenario when the theory is right. Returns those z [-] by scenario, their
    chi-square sum and its p-value (lumped consumption, where ``g_exact`` is known); of
    the shown estimate, or of the plain mean with ``plain``."""
    g, sem = _estimate_columns(points, plain)
    pts = points[np.isfinite(points.get("g_exact", pd.Series(dtype=float)))]
    if not len(pts):
        return {}
    last = pts.sort_values("T").groupby(["scenario", "routing_error"]).tail(1)
    last = last.sort_values(["scenario", "routing_error"])
    z = (last[g] - last["g_exact"]) / last[sem]
    chi2 = float((z**2).sum())
    return {
        "z_at_t_max": {str(k): float(v) for k, v in zip(last["scenario"], z, strict=True)},
        "chi2": chi2,
        "dof": len(z),
        "p_value": float(stats.chi2.sf(chi2, len(z))),
    }
