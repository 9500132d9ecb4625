"""Fits of one Monte Carlo mean deficit curve: regime shape and log-log slope
(docs/model.md §9).

The curve is y(T) = mean D_T [J] over trials at log-spaced checkpoints T [slots]; Theorem 2
(docs/model.md §7) predicts linear growth for mu < 0, a square root at mu = 0 and saturation
for mu > 0. :func:`fit_regime` chooses by BIC between a pure square root and a continuous
square root turning linear at a breakpoint tau; :func:`loglog_slope` reads the slope of
ln y against ln T on the tail, to set against the exponents 1, 1/2 and 0. Both fit with
statsmodels (OLS, or WLS given Monte Carlo standard errors) as if the points were
independent, though they share their paths: their standard errors are too narrow, and the
BIC calls many critical curves transitions (about 40 % in tests/test_detect.py). Use them to
rank and check fits; the calibrated decision is
:func:`energy_routing.analysis.transition.detect_transition`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import statsmodels.api as sm

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
