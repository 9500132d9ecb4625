"""Mean deficit curves from a merged dataset, plain or with control variates
(docs/model.md §11.7).

:func:`mean_deficit_curve` gives E[D_T] [J] and its standard error [J] at every checkpoint
of one routing error and consumption mode, by one of :data:`ESTIMATORS`.
:func:`control_variate_mean` is the estimator (leave-one-out coefficients, so the mean
stays unbiased); :func:`dyadic_controls` picks as controls the free walk's positions at T,
T/2, T/4, ..., whose means mu t [J] are known exactly, and
:func:`deficit_curve_with_controls` applies it along a curve, with at most one control per
:data:`TRIALS_PER_CONTROL` trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

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
