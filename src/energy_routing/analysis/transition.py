"""The calibrated test for a square-root-to-linear transition (docs/model.md §11.6).

:func:`detect_transition` takes the trials x checkpoints deficits D_T [J] and fits the mean
curve by generalised least squares, with the covariance of the mean estimated from the
trials (its correlation shrunk towards the Brownian one); the threshold of its sup-t
statistic is simulated from Brownian deficit curves under the critical null, so the
false-positive rate is at most alpha. The shape it reports is the segmented fit of
:func:`energy_routing.analysis.fits.fit_regime`, with a resampling interval for the
breakpoint [slots], and, given per-trial drifts, T* = 2 sigma^2 / (pi mu^2) [slots] with its
interval; all in a :class:`TransitionTest`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numba
import numpy as np

from energy_routing.analysis.fits import RegimeFit, fit_regime

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
#: Draws of the step law resampled by the step-law null (docs/model.md §11.6).
_STEP_SAMPLE = 1 << 20
#: Slots of resampled steps held at once by the step-law null (memory: 8 bytes each, x3).
_STEP_CHUNK = 1 << 22
#: Ladder offset over sigma of Gaussian steps, -zeta(1/2) / sqrt(2 pi) (docs/model.md §11.5).
_GAUSSIAN_OFFSET = 0.5825971579390106


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
    null_model : str
        ``"brownian"`` or ``"step law"`` (the walk's own steps, ``null_law``).
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
    null_model: str = "brownian"

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


def _step_null_setup(law, rng: np.random.Generator):
    """Standardised step sample and continuity correction of a critical step law.

    ``_STEP_SAMPLE`` draws of the centred law, recentred and scaled to mean 0 and variance 1
    exactly, and beta = delta / sigma, the ladder offset of docs/model.md §11.5 in units of
    sigma (0.5826 for Gaussian steps).
    """
    from energy_routing.theory import exact

    law = law.centred()
    steps = law.sample(rng, _STEP_SAMPLE)
    steps = (steps - steps.mean()) / steps.std()
    try:
        beta = exact.ladder_offset(law) / law.sigma_J
    except ValueError:  # a law the exact theory cannot invert: Gaussian steps' offset
        beta = _GAUSSIAN_OFFSET
    return steps, float(beta)


@numba.njit(nogil=True, cache=True)
def _walk_minima(steps, idx, at, out, b_end, low_end):  # pragma: no cover - numba
    """Walks of the steps ``steps[idx[i]]`` from B_0 = 0: -min(0, min_{s<=t} B_s) at the
    slots ``at + 1`` into ``out[i, :at.size]``, and the final B and minimum."""
    for i in range(idx.shape[0]):
        b, low, j = 0.0, 0.0, 0
        for t in range(idx.shape[1]):
            b += steps[idx[i, t]]
            low = min(low, b)
            if j < at.size and t == at[j]:
                out[i, j] = -low
                j += 1
        b_end[i], low_end[i] = b, low


def _step_law_deficits(
    rng: np.random.Generator,
    n_sets: int,
    n_trials: int,
    T: np.ndarray,
    steps: np.ndarray,
    beta: float,
    exact_slots: int,
):
    """Deficit curves of critical walks with the given step law, (sets, trials, T).

    Up to the last checkpoint <= ``exact_slots`` every slot is a step resampled from
    ``steps`` (standardised draws of the law), the running minimum taken over whole slots;
    beyond it, Gaussian increments between checkpoints with the Brownian-bridge minimum of
    :func:`_brownian_deficits` raised by ``beta`` (the discrete walk's minimum lies above the
    continuous one by the ladder offset, docs/model.md §11.5), never above the checkpoints.
    """
    shape = (n_sets, n_trials, T.size)
    n_curves = n_sets * n_trials
    k = int(np.searchsorted(T, exact_slots, side="right"))
    out = np.empty((n_curves, T.size))
    b0 = np.zeros(n_curves)
    low0 = np.zeros(n_curves)
    if k > 0:
        last = int(T[k - 1])
        at = T[:k].astype(np.int64) - 1
        chunk = max(1, _STEP_CHUNK // last)
        for start in range(0, n_curves, chunk):
            stop = min(start + chunk, n_curves)
            idx = rng.integers(0, steps.size, size=(stop - start, last), dtype=np.int32)
            _walk_minima(steps, idx, at, out[start:stop], b0[start:stop], low0[start:stop])
    if k < T.size:
        start_T = T[k - 1] if k > 0 else 0.0
        dt = np.diff(T[k:], prepend=start_T)
        b = b0[:, None] + np.cumsum(rng.standard_normal((n_curves, dt.size)) * np.sqrt(dt), -1)
        prev = np.concatenate([b0[:, None], b[:, :-1]], axis=-1)
        e = rng.standard_exponential(b.shape)
        bridge = 0.5 * (prev + b - np.sqrt((b - prev) ** 2 + 2.0 * dt * e)) + beta
        low = np.minimum(bridge, np.minimum(prev, b))
        out[:, k:] = -np.minimum(low0[:, None], np.minimum.accumulate(low, axis=-1))
    return out.reshape(shape)


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


def _law_key(law, exact_slots: int) -> tuple:
    """Hashable identity of a step law (and the exact part) for the null's memo."""
    if law is None:
        return ()
    return (
        law.gamma_shape,
        law.gamma_scale_J,
        law.shift_J,
        law.arrival_rate,
        np.asarray(law.energy_J, dtype=float).tobytes(),
        np.asarray(law.energy_prob, dtype=float).tobytes(),
        int(exact_slots),
    )


def _null_statistics(
    n_trials: int, T: tuple, n_null: int, seed, law=None, exact_slots: int = 0
) -> np.ndarray:
    """Sorted statistics of ``n_null`` critical data sets (memoised by seed): Brownian
    curves, or walks of the step law ``law`` (:func:`_step_law_deficits`)."""
    key = (n_trials, T, n_null, seed, *_law_key(law, exact_slots))
    if key in _NULL_CACHE:
        return _NULL_CACHE[key]
    rng = np.random.default_rng(seed)
    T_arr = np.asarray(T)
    design = _design(T_arr)
    if law is not None:
        steps, beta = _step_null_setup(law, rng)
    out = []
    for start in range(0, n_null, _NULL_BATCH):
        n = min(_NULL_BATCH, n_null - start)
        if law is None:
            curves = _brownian_deficits(rng, n, n_trials, T_arr)
        else:
            curves = _step_law_deficits(rng, n, n_trials, T_arr, steps, beta, exact_slots)
        out.append(_statistics(curves, design)[0])
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
    null_law=None,
    null_exact_slots: int = 1000,
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
    most ``alpha``. Given the walk's step law (``null_law``), the null curves are critical
    walks of that law instead: every slot up to ``null_exact_slots`` a step resampled
    from 2^20 draws of the centred law, Gaussian increments with the bridge minimum
    raised by the ladder offset beyond (the discrete walk's skewed steps and offset, which
    the Brownian null leaves out; docs/model.md §11.6).

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
        increment variance of lumped consumption, or :func:`energy_routing.engine.driver.
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
        (trials, checkpoints, n_null, seed, step law): reuse the seed across data sets of
        one shape (a new seed costs a new null simulation, about a second for 200 trials
        with the Brownian null, about 5 s with a step law).
    null_law : energy_routing.theory.increment.IncrementLaw, optional
        Per-slot increment law of the walk (e.g. ``increment_law(workload)``; its drift is
        removed). Default: the Brownian null. Checkpoints up to ``null_exact_slots`` must
        then be whole slots.
    null_exact_slots : int, default 1000
        Horizon [slots] up to which the step-law null walks slot by slot (cost: n_null x
        trials x this many resampled steps).

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
    if null_law is not None:
        if not all(hasattr(null_law, f) for f in ("centred", "sample", "sigma_J")):
            raise ValueError(
                "null_law must be an IncrementLaw (energy_routing.theory.increment); got "
                f"{type(null_law).__name__}"
            )
        exact = T[idx][T[idx] <= null_exact_slots]
        if isinstance(null_exact_slots, bool) or int(null_exact_slots) != null_exact_slots:
            raise ValueError(f"null_exact_slots must be an integer; got {null_exact_slots!r}")
        if np.any(exact != np.rint(exact)):
            raise ValueError(
                f"checkpoints up to null_exact_slots={null_exact_slots!r} must be whole slots "
                "for the step-law null"
            )

    if isinstance(rng, np.random.Generator):
        null_seed, resample_rng = rng.spawn(1)[0], rng.spawn(1)[0]
    else:
        seed = int(rng)
        null_seed, resample_rng = (seed, 0), np.random.default_rng((seed, 1))

    test_T = T[idx]
    design = _design(test_T)
    null = _null_statistics(
        n_trials,
        tuple(test_T.tolist()),
        int(n_null),
        null_seed,
        null_law,
        int(null_exact_slots) if null_law is not None else 0,
    )
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
        null_model="brownian" if null_law is None else "step law",
    )
