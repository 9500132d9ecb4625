"""Regime detection on Monte Carlo deficit curves (docs/model.md §9).

The input is one curve y(T) = mean D_T [J], the Monte Carlo mean of the auxiliary-energy
deficit over trials, sampled at log-spaced checkpoints T [slots]. Theorem 2 (docs/model.md §7)
predicts three shapes: linear growth under a persistent deficit (mu < 0), square-root growth
at criticality (mu = 0) and saturation under a persistent surplus (mu > 0). Two tools live
here:

``fit_regime``     BIC choice between a pure square root and a continuous
                   square-root-then-linear model with a breakpoint tau (docs/model.md §9).
``loglog_slope``   slope of log y against log T on the tail of the curve, to check the
                   exponents 1, 1/2 and 0 of Theorem 2.
``detect_transition``  the decision to trust (docs/model.md §11.6): a GLS test on the
                   trials x checkpoints deficits, with the covariance of the mean curve
                   estimated from the trials and the threshold simulated under the critical
                   null (false-positive rate <= alpha), the segmented fit as reported shape,
                   a resampling interval for its breakpoint and T* from the per-trial drift.

The fits of ``fit_regime`` and ``loglog_slope`` are done with statsmodels (OLS, or WLS when
Monte Carlo standard errors are supplied). The points along one curve come from the same
simulated paths, so their errors are positively correlated; statsmodels treats them as
independent, and the standard errors and confidence intervals reported there are therefore
optimistic (too narrow), and the BIC decision of ``fit_regime`` flags many critical curves
as transitions (about 40 % in tests/test_detect.py). Use them to
rank and sanity-check fits, not as calibrated uncertainties.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import statsmodels.api as sm

__all__ = [
    "RegimeFit",
    "SlopeFit",
    "TransitionTest",
    "detect_transition",
    "fit_regime",
    "loglog_slope",
]

# RSS values below this fraction of the weighted sum of squares of y cannot be resolved in
# double precision; they are floored there so that two exact fits get equal BIC (and the
# simpler model wins) instead of comparing round-off.
_RSS_RELATIVE_FLOOR = (64.0 * np.finfo(float).eps) ** 2


class _Curve(NamedTuple):
    T: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None  # WLS weights, or None for OLS


def _check_curve(T, y, se, *, positive_y: bool, min_n: int) -> _Curve:
    """Validate a curve and return clean float arrays and regression weights.

    Parameters
    ----------
    T, y, se : array_like
        Checkpoints [slots], curve values [J] and their standard errors [J] (or None).
    positive_y : bool
        Require y > 0 (needed to take logarithms).
    min_n : int
        Smallest number of points accepted.

    Returns
    -------
    _Curve
        ``weights`` is ``1 / se**2`` when every se is positive, otherwise None (OLS).

    Raises
    ------
    ValueError
        Naming the offending argument and what it may contain.
    """
    T = np.asarray(T, dtype=float)
    y = np.asarray(y, dtype=float)
    if T.ndim != 1:
        raise ValueError(f"T must be one-dimensional; got shape {T.shape}")
    if y.shape != T.shape:
        raise ValueError(f"y must have the same shape as T {T.shape}; got {y.shape}")
    if T.size < min_n:
        raise ValueError(f"T must hold at least {min_n} checkpoints; got {T.size}")
    if not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise ValueError("T must contain finite, strictly positive checkpoints [slots]")
    if np.any(np.diff(T) <= 0):
        raise ValueError("T must be strictly increasing")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must contain only finite values (no NaN or inf)")
    if positive_y and np.any(y <= 0):
        raise ValueError("y must be strictly positive to take its logarithm")
    weights = None
    if se is not None:
        se = np.asarray(se, dtype=float)
        if se.shape != T.shape:
            raise ValueError(f"se must have the same shape as T {T.shape}; got {se.shape}")
        if not np.all(np.isfinite(se)) or np.any(se < 0):
            raise ValueError("se must contain finite, non-negative standard errors")
        if np.all(se > 0):
            weights = se**-2
    return _Curve(T, y, weights)


def _fit_linear(exog: np.ndarray, y: np.ndarray, weights: np.ndarray | None):
    """Least squares with statsmodels: WLS when weights are given, else OLS."""
    if weights is None:
        return sm.OLS(y, exog).fit()
    return sm.WLS(y, exog, weights=weights).fit()


def _bic(rss: float, rss_floor: float, n: int, k: int, kappa: float) -> float:
    """BIC = n ln(RSS / n) + kappa k ln(n) (docs/model.md §9)."""
    rss = max(rss, rss_floor)
    return n * math.log(rss / n) + kappa * k * math.log(n)


@dataclass(frozen=True)
class RegimeFit:
    """Result of :func:`fit_regime`.

    Attributes
    ----------
    transition_detected : bool
        True when the segmented model has a strictly lower BIC than the pure square root.
    breakpoint_T : float
        Accepted breakpoint tau [slots]; NaN when no transition is detected.
    a : float
        Square-root coefficient of the accepted model [J slot^-1/2].
    a_se : float
        Its statsmodels standard error [J slot^-1/2] (conditional on tau when segmented).
    c : float
        Linear slope beyond tau [J slot^-1]; NaN for the pure model.
    c_se : float
        Its standard error [J slot^-1]; NaN for the pure model.
    pure_a, pure_a_se : float
        Coefficient and standard error of the pure model y = a sqrt(T) [J slot^-1/2].
    bic_pure : float
        BIC of the pure model (k = 1).
    bic_segmented : float
        Lowest BIC over the candidate breakpoints (k = 3); NaN when there is no candidate.
    best_candidate_T : float
        Breakpoint [slots] attaining ``bic_segmented``, accepted or not; NaN without candidates.
    n_points : int
        Number of checkpoints n.
    n_candidates : int
        Number of breakpoints tried.
    bic_penalty : float
        Penalty multiplier kappa used in the BIC.
    weighted : bool
        True when the fits were WLS with weights 1 / se^2, False for OLS.
    """

    transition_detected: bool
    breakpoint_T: float
    a: float
    a_se: float
    c: float
    c_se: float
    pure_a: float
    pure_a_se: float
    bic_pure: float
    bic_segmented: float
    best_candidate_T: float
    n_points: int
    n_candidates: int
    bic_penalty: float
    weighted: bool

    def predict(self, T):
        """Curve of the accepted model.

        Parameters
        ----------
        T : array_like
            Horizons [slots], non-negative.

        Returns
        -------
        numpy.ndarray or float
            ``a sqrt(T)`` for the pure model, ``a sqrt(min(T, tau)) + c max(0, T - tau)`` when
            a transition was detected [J]. Same shape as ``T``.
        """
        T = np.asarray(T, dtype=float)
        if np.any(T < 0):
            raise ValueError("T must be non-negative [slots]")
        if not self.transition_detected:
            out = self.a * np.sqrt(T)
        else:
            tau = self.breakpoint_T
            out = self.a * np.sqrt(np.minimum(T, tau)) + self.c * np.maximum(0.0, T - tau)
        return out[()] if out.ndim == 0 else out

    def as_dict(self) -> dict[str, float | int | bool]:
        """Fields as plain Python scalars, ready for a CSV or JSON row."""
        return asdict(self)


def fit_regime(T, y, se=None, bic_penalty: float = 2.0, min_points: int = 3) -> RegimeFit:
    """Detect a square-root-to-linear transition in a mean deficit curve by BIC.

    Two models are fitted to y(T) = mean D_T, both without intercept:

    * pure square root, y = a sqrt(T), with k = 1;
    * for every candidate breakpoint tau among the checkpoints, the continuous segmented model
      y = a sqrt(min(T, tau)) + c max(0, T - tau), with k = 3 (a, c, tau). For fixed tau it is
      linear in (a, c) and is fitted by least squares.

    Each is scored with BIC = n ln(RSS / n) + kappa k ln(n). The best segmented tau is the one
    with the lowest BIC (equivalently the lowest RSS), and a transition is reported only when
    that BIC is strictly below the pure model's.

    Parameters
    ----------
    T : array_like
        Checkpoints [slots], strictly increasing and positive (log-spaced in practice).
    y : array_like
        Mean deficit at each checkpoint [J], finite.
    se : array_like, optional
        Monte Carlo standard error of each y [J], non-negative. When every entry is positive
        the fits are WLS with weights 1 / se^2 and RSS is the weighted sum of squares;
        otherwise (None, or any zero) they are OLS.
    bic_penalty : float, default 2.0
        Penalty multiplier kappa >= 0; kappa > 1 favours the simpler model more than
        the classical BIC.
    min_points : int, default 3
        Smallest number of checkpoints on each side of a candidate breakpoint (tau itself
        counts on the square-root side), at least 2. Candidates are the checkpoints
        T[min_points - 1], ..., T[n - min_points - 1]. With fewer than ``2 * min_points``
        points there is no candidate: the pure fit is returned with
        ``transition_detected=False`` and ``bic_segmented`` NaN.

    Returns
    -------
    RegimeFit
        Accepted model, both BICs and the pure fit; see :class:`RegimeFit`.

    Raises
    ------
    ValueError
        If the arrays have different shapes, T is not strictly increasing and positive, y is
        not finite, se is negative or not finite, fewer than 2 points are given, or the
        options are out of range.

    Notes
    -----
    Standard errors are those statsmodels reports (residual variance estimated from the
    fit); for the segmented model they are conditional on the chosen tau. The Monte Carlo
    points along one curve come from the same simulated paths and are positively correlated,
    which statsmodels ignores, so the standard errors are optimistic. An RSS smaller than
    round-off (relative to the weighted sum of squares of y) is floored, so that exact data
    gives tied BICs and the pure model is kept. The two models are not nested (the
    segmented one is linear beyond its last candidate tau), so the pure model can win even
    with ``bic_penalty=0``; the best tau does not depend on kappa, so raising kappa can
    only turn a detection off, never on.

    References
    ----------
    ``docs/model.md`` section 9 (regime detection); section 7 (Theorem 2) for the
    regimes.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.geomspace(10, 1e5, 41)
    >>> tau = T[20]  # 1000 slots
    >>> y = 2 * np.sqrt(np.minimum(T, tau)) + 0.05 * np.maximum(0, T - tau)
    >>> fit = fit_regime(T, y)
    >>> fit.transition_detected, round(fit.breakpoint_T), round(fit.a, 6), round(fit.c, 6)
    (True, 1000, 2.0, 0.05)
    >>> fit_regime(T, 2 * np.sqrt(T)).transition_detected
    False
    """
    curve = _check_curve(T, y, se, positive_y=False, min_n=2)
    kappa = float(bic_penalty)
    if not (math.isfinite(kappa) and kappa >= 0):
        raise ValueError(f"bic_penalty must be a finite number >= 0; got {bic_penalty!r}")
    if isinstance(min_points, bool) or int(min_points) != min_points or min_points < 2:
        raise ValueError(f"min_points must be an integer >= 2; got {min_points!r}")
    min_points = int(min_points)

    T, y, w = curve
    n = T.size
    wy2 = float(np.sum(y**2 if w is None else w * y**2))
    rss_floor = _RSS_RELATIVE_FLOOR * wy2 if wy2 > 0 else np.finfo(float).tiny

    sqrt_T = np.sqrt(T)
    pure = _fit_linear(sqrt_T[:, None], y, w)
    pure_a, pure_a_se = float(pure.params[0]), float(pure.bse[0])
    bic_pure = _bic(float(pure.ssr), rss_floor, n, 1, kappa)

    best = None  # (bic, tau, results)
    candidates = range(min_points - 1, n - min_points)
    for i in candidates:
        tau = T[i]
        exog = np.column_stack([np.sqrt(np.minimum(T, tau)), np.maximum(0.0, T - tau)])
        res = _fit_linear(exog, y, w)
        bic = _bic(float(res.ssr), rss_floor, n, 3, kappa)
        if best is None or bic < best[0]:
            best = (bic, float(tau), res)

    nan = math.nan
    common = dict(
        pure_a=pure_a,
        pure_a_se=pure_a_se,
        bic_pure=bic_pure,
        n_points=int(n),
        n_candidates=len(candidates),
        bic_penalty=kappa,
        weighted=w is not None,
    )
    bic_seg, tau, res = best if best is not None else (nan, nan, None)
    if res is not None and bic_seg < bic_pure:
        coef = {
            "a": float(res.params[0]),
            "a_se": float(res.bse[0]),
            "c": float(res.params[1]),
            "c_se": float(res.bse[1]),
        }
        return RegimeFit(
            transition_detected=True,
            breakpoint_T=tau,
            bic_segmented=bic_seg,
            best_candidate_T=tau,
            **coef,
            **common,
        )
    return RegimeFit(
        transition_detected=False,
        breakpoint_T=nan,
        a=pure_a,
        a_se=pure_a_se,
        c=nan,
        c_se=nan,
        bic_segmented=bic_seg,
        best_candidate_T=tau,
        **common,
    )


@dataclass(frozen=True)
class SlopeFit:
    """Result of :func:`loglog_slope`.

    Attributes
    ----------
    slope : float
        Fitted exponent p in y ~ T^p [-].
    slope_se : float
        Its statsmodels standard error [-] (optimistic for Monte Carlo curves).
    ci_low, ci_high : float
        Two-sided (1 - alpha) t-interval for the slope [-].
    intercept : float
        Fitted ln y at T = 1 slot [ln J].
    n_points : int
        Number of checkpoints used (those with T >= t_from).
    t_from : float
        Smallest horizon included [slots].
    alpha : float
        Significance level of the interval.
    weighted : bool
        True when the fit was WLS with delta-method weights (y / se)^2.
    """

    slope: float
    slope_se: float
    ci_low: float
    ci_high: float
    intercept: float
    n_points: int
    t_from: float
    alpha: float
    weighted: bool

    def as_dict(self) -> dict[str, float | int | bool]:
        """Fields as plain Python scalars, ready for a CSV or JSON row."""
        return asdict(self)


def loglog_slope(T, y, se=None, t_from: float | None = None, alpha: float = 0.05) -> SlopeFit:
    """Slope of ln y against ln T on the tail of a curve.

    Fits ln y = b + p ln T over the checkpoints with T >= ``t_from`` and returns p with its
    confidence interval. Theorem 2 predicts p = 1 for a persistent deficit, p = 1/2 at
    criticality and p -> 0 for a persistent surplus.

    Parameters
    ----------
    T : array_like
        Checkpoints [slots], strictly increasing and positive.
    y : array_like
        Mean deficit at each checkpoint [J], strictly positive.
    se : array_like, optional
        Standard error of each y [J], non-negative. When every entry is positive the fit is
        WLS: by the delta method sd(ln y) ~ se / y, so the weights are (y / se)^2.
        Otherwise (None, or any zero) it is OLS.
    t_from : float, optional
        Smallest horizon used [slots]. Default: the upper half of the checkpoints in log T,
        i.e. ``sqrt(T[0] * T[-1])``. At least 3 checkpoints must remain.
    alpha : float, default 0.05
        Significance level of the two-sided t-interval, in (0, 1).

    Returns
    -------
    SlopeFit
        Slope, standard error, interval and the number of points used.

    Raises
    ------
    ValueError
        On malformed T, y or se (see :func:`fit_regime`), y <= 0, alpha outside (0, 1), or a
        ``t_from`` that leaves fewer than 3 checkpoints.

    Notes
    -----
    The Monte Carlo points along one curve come from the same simulated paths and are
    positively correlated; the statsmodels standard error ignores this and is optimistic,
    so the interval is too narrow for such curves.

    References
    ----------
    ``docs/model.md`` section 9 (regime detection) and section 7 (Theorem 2).

    Examples
    --------
    >>> import numpy as np
    >>> T = np.geomspace(10, 1e6, 50)
    >>> round(loglog_slope(T, 3.0 * np.sqrt(T)).slope, 6)
    0.5
    >>> fit = loglog_slope(T, 0.2 * T, t_from=1e4)
    >>> round(fit.slope, 6), fit.n_points
    (1.0, 20)
    """
    curve = _check_curve(T, y, se, positive_y=True, min_n=3)
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1; got {alpha!r}")
    T, y, w = curve
    if t_from is None:
        t_from = math.sqrt(T[0] * T[-1])
        origin = "the default t_from = sqrt(T[0] * T[-1])"
    else:
        t_from = float(t_from)
        if not (math.isfinite(t_from) and t_from > 0):
            raise ValueError(f"t_from must be a finite, positive horizon [slots]; got {t_from!r}")
        origin = f"t_from = {t_from!r}"
    keep = T >= t_from
    n_keep = int(np.count_nonzero(keep))
    if n_keep < 3:
        raise ValueError(f"t_from must leave at least 3 checkpoints; {origin} leaves {n_keep}")

    log_T, log_y = np.log(T[keep]), np.log(y[keep])
    # delta method: var(ln y) = (se / y)^2 = 1 / (w y^2) with w = 1 / se^2
    log_w = None if w is None else w[keep] * y[keep] ** 2
    res = _fit_linear(sm.add_constant(log_T, has_constant="add"), log_y, log_w)
    ci = res.conf_int(alpha=alpha)
    return SlopeFit(
        slope=float(res.params[1]),
        slope_se=float(res.bse[1]),
        ci_low=float(ci[1, 0]),
        ci_high=float(ci[1, 1]),
        intercept=float(res.params[0]),
        n_points=n_keep,
        t_from=float(t_from),
        alpha=alpha,
        weighted=w is not None,
    )


# ======================================================================================
# The calibrated transition test (docs/model.md §11.6)
# ======================================================================================
#
# fit_regime scores a mean curve as if its points were independent, but every checkpoint
# of a Monte Carlo curve comes from the same paths: neighbouring points are almost
# perfectly correlated, so the BIC sees far more evidence than there is and finds
# "transitions" in critical curves. detect_transition keeps the segmented fit as the
# reported shape and takes the decision from a generalised-least-squares test whose
# covariance is estimated from the trials and whose threshold is simulated under the
# critical null.

#: Null curves simulated per batch (memory: batch x trials x points).
_NULL_BATCH = 64


@dataclass(frozen=True)
class TransitionTest:
    """Result of :func:`detect_transition` (docs/model.md §11.6).

    Attributes
    ----------
    transition_detected : bool
        The calibrated test rejects the critical null: ``p_value <= alpha``.
    p_value : float
        Share of simulated critical data sets with a statistic at least as large, with the
        usual +1 correction [-].
    statistic : float
        Largest GLS t-statistic of an extra linear growth ``c (T - tau)^+`` over the null
        fit ``a sqrt(T) + b`` [-].
    critical_value : float
        (1 - alpha) quantile of the statistic under the null [-].
    alpha : float
        Level of the test [-].
    breakpoint_T : float
        Breakpoint tau of the segmented square-root-to-linear fit of the mean curve
        (:func:`fit_regime`) [slots]; NaN when no transition is detected.
    breakpoint_interval : tuple of float
        (1 - alpha) percentile interval of that breakpoint over resamples of the trials
        [slots]; NaNs when no transition is detected.
    detection_frequency : float
        Share of resamples of the trials in which the test rejects [-].
    t_star_estimate : float
        T* = 2 sigma^2 / (pi mu^2) [slots]; from the per-trial drifts when given, else
        from the segmented fit (``(a / c)^2``); NaN when neither is available.
    t_star_interval : tuple of float
        (1 - alpha) interval for T* [slots]; the upper end is inf when the drift interval
        contains 0.
    t_star_source : str
        ``"drift"``, ``"fit"`` or ``"none"``.
    mu_estimate : float
        Mean per-trial drift [J/slot]; NaN without ``mu_samples``.
    mu_interval : tuple of float
        Its (1 - alpha) t-interval [J/slot].
    drift_p_value : float
        One-sided t-test p-value of mu < 0 from the per-trial drifts [-]; NaN without them.
    sigma : float
        Volatility used for T* [J/sqrt(slot)]; NaN when unknown.
    fit : RegimeFit
        The segmented BIC fit of the mean curve on the checkpoints T >= ``t_min``.
    n_trials : int
        Number of trials (rows of ``deficits``).
    test_T : tuple of float
        Checkpoints used by the test [slots].
    shrinkage : float
        Weight of the Brownian correlation target in the shrunk covariance [-].
    n_null, n_resamples : int
        Simulated null data sets and resamples of the trials.
    """

    transition_detected: bool
    p_value: float
    statistic: float
    critical_value: float
    alpha: float
    breakpoint_T: float
    breakpoint_interval: tuple[float, float]
    detection_frequency: float
    t_star_estimate: float
    t_star_interval: tuple[float, float]
    t_star_source: str
    mu_estimate: float
    mu_interval: tuple[float, float]
    drift_p_value: float
    sigma: float
    fit: RegimeFit
    n_trials: int
    test_T: tuple[float, ...]
    shrinkage: float
    n_null: int
    n_resamples: int

    def as_dict(self) -> dict[str, float | int | bool | str]:
        """Flat fields as plain Python scalars (intervals split into ``_low``/``_high``,
        the fit's fields prefixed with ``fit_``), ready for a CSV or JSON row."""
        out: dict[str, float | int | bool | str] = {}
        for key, value in asdict(self).items():
            if key == "fit":
                out.update({f"fit_{k}": v for k, v in value.items()})
            elif key == "test_T":
                out["n_test_points"] = len(value)
            elif isinstance(value, tuple):
                out[f"{key.removesuffix('_interval')}_low"] = float(value[0])
                out[f"{key.removesuffix('_interval')}_high"] = float(value[1])
            else:
                out[key] = value
        return out


def _test_points(T: np.ndarray, t_min: float, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` checkpoints >= t_min, log-spaced (thinning)."""
    idx = np.flatnonzero(T >= t_min)
    if idx.size > max_points:
        targets = np.geomspace(T[idx[0]], T[idx[-1]], max_points)
        nearest = np.abs(np.log(T[idx])[None, :] - np.log(targets)[:, None]).argmin(axis=1)
        idx = idx[np.unique(nearest)]
    return idx


def _brownian_deficits(rng: np.random.Generator, n_sets: int, n_trials: int, T: np.ndarray):
    """Deficit curves of standard Brownian motions sampled exactly at T, (sets, trials, T).

    Between checkpoints the minimum of the Brownian bridge from x to y over a time dt is
    ``(x + y - sqrt((x - y)^2 + 2 dt E)) / 2`` with E ~ Exp(1); the running minimum of
    those, capped at B_0 = 0, is -D_T exactly.
    """
    dt = np.diff(T, prepend=0.0)
    shape = (n_sets, n_trials, T.size)
    b = np.cumsum(rng.standard_normal(shape) * np.sqrt(dt), axis=-1)
    prev = np.concatenate([np.zeros((*shape[:2], 1)), b[..., :-1]], axis=-1)
    low = 0.5 * (prev + b - np.sqrt((b - prev) ** 2 + 2.0 * dt * rng.standard_exponential(shape)))
    return -np.minimum.accumulate(np.minimum(low, 0.0), axis=-1)


def _shrunk_mean_covariance(curves: np.ndarray, target: np.ndarray):
    """Mean curve and shrunk covariance of the mean, batched over the first axis.

    The sample correlation is shrunk towards ``target`` with the Schafer-Strimmer
    intensity ``sum Var(r_ij) / sum (r_ij - t_ij)^2`` (off-diagonal), clipped to [0, 1].

    Returns
    -------
    mean : (B, p), cov : (B, p, p), shrinkage : (B,)
    """
    m = curves.shape[1]
    mean = curves.mean(axis=1)
    x = curves - mean[:, None, :]
    sd = np.sqrt(np.einsum("bki,bki->bi", x, x) / (m - 1))
    sd = np.maximum(sd, 1e-300)
    z = x / sd[:, None, :]
    r = np.einsum("bki,bkj->bij", z, z) / (m - 1)
    z2 = z * z
    w_bar = (m - 1) / m * r
    var_r = m / (m - 1) ** 3 * (np.einsum("bki,bkj->bij", z2, z2) - m * w_bar**2)
    off = ~np.eye(r.shape[-1], dtype=bool)
    denom = np.sum((r - target)[:, off] ** 2, axis=-1)
    lam = np.clip(np.sum(var_r[:, off], axis=-1) / np.maximum(denom, 1e-300), 0.0, 1.0)
    lam = np.maximum(lam, 1e-6)  # keeps the matrix positive definite when m <= p
    rs = (1.0 - lam)[:, None, None] * r + lam[:, None, None] * target
    cov = rs * sd[:, :, None] * sd[:, None, :] / m
    return mean, cov, lam


def _sup_t(mean: np.ndarray, cov: np.ndarray, null_design: np.ndarray, alt: np.ndarray):
    """Largest GLS t-statistic of each alternative column given the null design, batched.

    Whitening by the Cholesky factor L of ``cov``; with the null columns projected out
    (QR), the statistic of column j is ``<a_j, r> / |a_j|`` (known covariance).
    """
    chol = np.linalg.cholesky(cov)
    batch = mean.shape[0]
    rhs = np.concatenate(
        [
            mean[:, :, None],
            np.broadcast_to(null_design, (batch, *null_design.shape)),
            np.broadcast_to(alt, (batch, *alt.shape)),
        ],
        axis=-1,
    )
    white = np.linalg.solve(chol, rhs)
    q0 = null_design.shape[1]
    z, w0, wa = white[:, :, :1], white[:, :, 1 : 1 + q0], white[:, :, 1 + q0 :]
    q, _ = np.linalg.qr(w0)
    resid = z - q @ (np.swapaxes(q, 1, 2) @ z)
    a = wa - q @ (np.swapaxes(q, 1, 2) @ wa)
    t = (np.swapaxes(a, 1, 2) @ resid)[..., 0] / np.sqrt(np.einsum("bpj,bpj->bj", a, a))
    return t.max(axis=-1)


class _Design(NamedTuple):
    target: np.ndarray  # Brownian correlation sqrt(min / max)
    null: np.ndarray  # (p, q0): sqrt(T), 1, 1/sqrt(T)
    alt: np.ndarray  # (p, n_tau): (T - tau)^+


def _design(T: np.ndarray) -> _Design:
    """Target correlation, null columns and alternative columns on the test points."""
    ratio = np.minimum.outer(T, T) / np.maximum.outer(T, T)
    null = np.column_stack([np.sqrt(T), np.ones_like(T), 1.0 / np.sqrt(T)])
    taus = np.concatenate(([0.0], T[:-2]))
    alt = np.maximum(0.0, T[:, None] - taus[None, :])
    return _Design(np.sqrt(ratio), null, alt)


def _statistics(curves: np.ndarray, design: _Design):
    """Sup-t statistic and shrinkage of a batch of curve sets (B, trials, points)."""
    mean, cov, lam = _shrunk_mean_covariance(curves, design.target)
    return _sup_t(mean, cov, design.null, design.alt), lam


def _null_statistics(n_trials: int, T: tuple, n_null: int, seed) -> np.ndarray:
    """Sorted statistics of ``n_null`` critical (Brownian) data sets (memoised by seed)."""
    key = (n_trials, T, n_null, seed)
    if key in _NULL_CACHE:
        return _NULL_CACHE[key]
    rng = np.random.default_rng(seed)
    T_arr = np.asarray(T)
    design = _design(T_arr)
    out = []
    for start in range(0, n_null, _NULL_BATCH):
        n = min(_NULL_BATCH, n_null - start)
        out.append(_statistics(_brownian_deficits(rng, n, n_trials, T_arr), design)[0])
    stats = np.sort(np.concatenate(out))
    if isinstance(seed, int | tuple):
        if len(_NULL_CACHE) > 64:
            _NULL_CACHE.clear()
        _NULL_CACHE[key] = stats
    return stats


_NULL_CACHE: dict[tuple, np.ndarray] = {}


def _segmented_best(T, ys, ses, min_points: int):
    """Best breakpoint of :func:`fit_regime`'s segmented model for a batch of curves.

    Weighted least squares with weights 1/se^2 (OLS when any se is 0) for every candidate;
    returns tau, a and c of the smallest residual sum of squares, each of shape (B,).
    """
    cand = np.arange(min_points - 1, T.size - min_points)
    taus = T[cand]
    x1 = np.sqrt(np.minimum(T[None, :], taus[:, None]))  # (C, n)
    x2 = np.maximum(0.0, T[None, :] - taus[:, None])
    w = np.where(np.all(ses > 0, axis=1, keepdims=True), 1.0 / np.maximum(ses, 1e-300) ** 2, 1.0)
    g11 = w @ (x1 * x1).T  # (B, C)
    g12 = w @ (x1 * x2).T
    g22 = w @ (x2 * x2).T
    h1 = (w * ys) @ x1.T
    h2 = (w * ys) @ x2.T
    det = g11 * g22 - g12 * g12
    a = (g22 * h1 - g12 * h2) / det
    c = (g11 * h2 - g12 * h1) / det
    rss = np.sum(w * ys * ys, axis=1, keepdims=True) - a * h1 - c * h2
    best = np.argmin(rss, axis=1)
    rows = np.arange(ys.shape[0])
    return taus[best], a[rows, best], c[rows, best]


def _drift(mu_samples, sigma, horizon: float, alpha: float, n_trials: int):
    """Drift estimate, its interval and one-sided p-value, sigma and T* with its interval."""
    from scipy import stats

    mu = np.asarray(mu_samples, dtype=float).ravel()
    if mu.size != n_trials or not np.all(np.isfinite(mu)):
        raise ValueError(f"mu_samples must hold {n_trials} finite per-trial drifts [J/slot]")
    m = mu.size
    mu_hat, sd = float(mu.mean()), float(mu.std(ddof=1))
    se = sd / math.sqrt(m)
    if sigma is None:  # Var(B_T / T) = sigma^2 / T; Bonferroni: alpha / 2 for each of mu, sigma
        a_mu = alpha / 2
        sigma_hat = sd * math.sqrt(horizon)
        chi = stats.chi2.ppf([1 - alpha / 4, alpha / 4], m - 1)
        sigma_lo, sigma_hi = np.sqrt((m - 1) * sigma_hat**2 / chi)
    else:
        sigma_hat = float(sigma)
        if not (math.isfinite(sigma_hat) and sigma_hat > 0):
            raise ValueError(f"sigma must be finite and > 0, got {sigma!r}")
        a_mu, sigma_lo, sigma_hi = alpha, sigma_hat, sigma_hat
    q = float(stats.t.ppf(1 - a_mu / 2, m - 1))
    lo, hi = mu_hat - q * se, mu_hat + q * se
    p_neg = float(stats.t.cdf(mu_hat / se, m - 1)) if se > 0 else float(mu_hat < 0)
    q_mu = stats.t.ppf(1 - alpha / 2, m - 1)
    mu_interval = (mu_hat - q_mu * se, mu_hat + q_mu * se)
    with np.errstate(divide="ignore"):
        t_star = 2.0 * sigma_hat**2 / (math.pi * mu_hat**2) if mu_hat != 0 else math.inf
        far = max(abs(lo), abs(hi))
        near = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
        t_lo = 2.0 * sigma_lo**2 / (math.pi * far**2) if far > 0 else math.inf
        t_hi = 2.0 * sigma_hi**2 / (math.pi * near**2) if near > 0 else math.inf
    return mu_hat, mu_interval, p_neg, sigma_hat, t_star, (t_lo, t_hi)


def detect_transition(
    checkpoints,
    deficits,
    *,
    mu_samples=None,
    sigma: float | None = None,
    drift_horizon: float | None = None,
    alpha: float = 0.05,
    t_min: float = 100.0,
    max_points: int = 20,
    n_null: int = 2000,
    n_resamples: int = 200,
    bic_penalty: float = 2.0,
    min_points: int = 3,
    rng: int | np.random.Generator = 0,
) -> TransitionTest:
    r"""Calibrated test for a square-root-to-linear transition (docs/model.md §11.6).

    Decision. On at most ``max_points`` log-spaced checkpoints with ``T >= t_min``, the
    mean curve ``y`` is fitted by generalised least squares under the critical null
    ``y = a sqrt(T) + b + d / sqrt(T)`` (square root, ladder offset, its first correction)
    and, for every tau in {0} and the checkpoints, with the extra term ``c (T - tau)^+``.
    The covariance of the mean is the trials' sample covariance divided by their number,
    its correlation shrunk towards the Brownian one ``sqrt(min(s, t) / max(s, t))``
    (Schafer-Strimmer intensity). The statistic is the largest t-value of c (one-sided:
    only extra growth counts). Its null distribution is simulated: ``n_null`` data sets of
    the same number of Brownian deficit curves at the same checkpoints (sampled exactly,
    with bridge minima), each put through the same estimate and fit; the statistic is
    scale-free, so sigma is not needed. The transition is detected when the p-value is at
    most ``alpha``.

    Reported shape. The segmented fit of :func:`fit_regime` on the mean curve (all
    checkpoints with ``T >= t_min``, WLS with the Monte Carlo standard errors) gives the
    breakpoint; ``n_resamples`` resamples of the trials (with replacement) give its
    percentile interval and the detection frequency.

    Drift. With per-trial drifts (``mu_samples``, e.g. B_T / T, the ``realised_drift``
    of the Monte Carlo datasets), ``T* = 2 sigma^2 / (pi mu^2)`` is reported with an
    interval from the t-interval of the mean drift (and, when ``sigma`` is not given, the
    chi-square interval of ``sigma = sd(mu_samples) sqrt(drift_horizon)``, Bonferroni).

    Parameters
    ----------
    checkpoints : array_like, shape (n,)
        Horizons T [slots], strictly increasing and positive.
    deficits : array_like, shape (trials, n)
        D_T of every trial at every checkpoint [J]; at least 10 trials.
    mu_samples : array_like, shape (trials,), optional
        Realised drift of each trial [J/slot].
    sigma : float, optional
        Volatility [J/sqrt(slot)] for T* (e.g. the square root of the mean per-slot
        increment variance of lumped consumption, or :func:`energy_routing.montecarlo.
        drift_volatility`). Default: estimated from ``mu_samples``.
    drift_horizon : float, optional
        Horizon over which ``mu_samples`` were realised [slots]; default the last
        checkpoint.
    alpha : float, default 0.05
        Level of the test and of the intervals [-].
    t_min : float, default 100
        Smallest checkpoint used [slots]; below it the walk is not yet diffusive (the
        discrete steps and the per-task service profiles show).
    max_points : int, default 20
        Largest number of checkpoints in the test (thinning keeps the covariance estimable
        from a few dozen trials).
    n_null : int, default 2000
        Simulated null data sets: the p-value resolution is 1 / (n_null + 1), and the
        realised level of the test scatters by about sqrt(alpha (1 - alpha) / n_null)
        (0.5 % at the default) around alpha.
    n_resamples : int, default 200
        Resamples of the trials for the detection frequency and the intervals.
    bic_penalty, min_points
        Passed to :func:`fit_regime`.
    rng : int or numpy.random.Generator, default 0
        Seed (or generator) of the null simulation and the resampling; the result is a
        deterministic function of the data and the seed. Null statistics are memoised per
        (trials, checkpoints, n_null, seed): reuse the seed across data sets of one shape
        (a new seed costs a new null simulation, about a second for 200 trials).

    Returns
    -------
    TransitionTest

    Raises
    ------
    ValueError
        On malformed inputs (shapes, non-finite values, fewer than 10 trials or 6 test
        points, options out of range).
    """
    T = np.asarray(checkpoints, dtype=float)
    D = np.asarray(deficits, dtype=float)
    if T.ndim != 1 or T.size < 2 or not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise ValueError("checkpoints must be a 1-D array of finite, positive horizons [slots]")
    if np.any(np.diff(T) <= 0):
        raise ValueError("checkpoints must be strictly increasing")
    if D.ndim != 2 or D.shape[1] != T.size:
        raise ValueError(f"deficits must have shape (trials, {T.size}); got {D.shape}")
    if not np.all(np.isfinite(D)):
        raise ValueError("deficits must be finite")
    n_trials = D.shape[0]
    if n_trials < 10:
        raise ValueError(f"deficits must hold at least 10 trials; got {n_trials}")
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}")
    for name, value, low in (("max_points", max_points, 6), ("n_null", n_null, 20)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or n_resamples < 0:
        raise ValueError(f"n_resamples must be an integer >= 0; got {n_resamples!r}")
    idx = _test_points(T, float(t_min), int(max_points))
    if idx.size < 6:
        raise ValueError(f"need at least 6 checkpoints with T >= t_min={t_min!r}")

    if isinstance(rng, np.random.Generator):
        null_seed, resample_rng = rng.spawn(1)[0], rng.spawn(1)[0]
    else:
        seed = int(rng)
        null_seed, resample_rng = (seed, 0), np.random.default_rng((seed, 1))

    test_T = T[idx]
    design = _design(test_T)
    null = _null_statistics(n_trials, tuple(test_T.tolist()), int(n_null), null_seed)
    curves = D[:, idx]
    stat, lam = _statistics(curves[None], design)
    stat, lam = float(stat[0]), float(lam[0])
    p_value = (1.0 + np.count_nonzero(null >= stat)) / (null.size + 1.0)
    critical = float(np.quantile(null, 1.0 - alpha))
    detected = bool(p_value <= alpha)

    keep = T >= t_min
    T_fit, D_fit = T[keep], D[:, keep]
    y = D_fit.mean(axis=0)
    se = D_fit.std(axis=0, ddof=1) / math.sqrt(n_trials)
    fit = fit_regime(T_fit, y, se, bic_penalty=bic_penalty, min_points=min_points)

    nan2 = (math.nan, math.nan)
    frequency, tau_b, a_b, c_b = math.nan, None, None, None
    if n_resamples > 0:
        rows = resample_rng.integers(0, n_trials, size=(int(n_resamples), n_trials))
        stats_b = np.concatenate(
            [
                _statistics(curves[rows[i : i + _NULL_BATCH]], design)[0]
                for i in range(0, rows.shape[0], _NULL_BATCH)
            ]
        )
        frequency = float(np.mean(stats_b >= critical))
        if fit.n_candidates > 0:
            samples = D_fit[rows]  # (B, trials, n)
            ys = samples.mean(axis=1)
            ses = samples.std(axis=1, ddof=1) / math.sqrt(n_trials)
            tau_b, a_b, c_b = _segmented_best(T_fit, ys, ses, min_points)
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    breakpoint, interval = math.nan, nan2
    if detected and math.isfinite(fit.best_candidate_T):
        breakpoint = fit.best_candidate_T
        if tau_b is not None:
            interval = tuple(float(v) for v in np.percentile(tau_b, q, method="nearest"))

    mu_hat, mu_int, drift_p, sigma_used = math.nan, nan2, math.nan, math.nan
    t_star, t_int, source = math.nan, nan2, "none"
    if mu_samples is not None:
        horizon = float(T[-1] if drift_horizon is None else drift_horizon)
        mu_hat, mu_int, drift_p, sigma_used, t_star, t_int = _drift(
            mu_samples, sigma, horizon, alpha, n_trials
        )
        source = "drift"
    elif detected and fit.n_candidates > 0:
        # diffusion: a -> sigma sqrt(2 / pi) and c -> |mu| give T* = (a / c)^2
        _, a_all, c_all = _segmented_best(T_fit, y[None], se[None], min_points)
        if c_all[0] > 0:
            t_star = float((a_all[0] / c_all[0]) ** 2)
            source = "fit"
            if c_b is not None:
                with np.errstate(divide="ignore"):
                    ratio = np.where(c_b > 0, (a_b / np.where(c_b > 0, c_b, 1.0)) ** 2, np.inf)
                t_int = tuple(float(v) for v in np.percentile(ratio, q))
        if sigma is not None:
            sigma_used = float(sigma)

    return TransitionTest(
        transition_detected=detected,
        p_value=float(p_value),
        statistic=stat,
        critical_value=critical,
        alpha=alpha,
        breakpoint_T=float(breakpoint),
        breakpoint_interval=interval,
        detection_frequency=frequency,
        t_star_estimate=float(t_star),
        t_star_interval=(float(t_int[0]), float(t_int[1])),
        t_star_source=source,
        mu_estimate=float(mu_hat),
        mu_interval=(float(mu_int[0]), float(mu_int[1])),
        drift_p_value=float(drift_p),
        sigma=float(sigma_used),
        fit=fit,
        n_trials=int(n_trials),
        test_T=tuple(float(t) for t in test_T),
        shrinkage=lam,
        n_null=int(n_null),
        n_resamples=int(n_resamples),
    )
