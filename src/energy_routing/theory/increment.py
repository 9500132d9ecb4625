"""The law of one slot's battery increment X = R - C, the input of the exact theory
(docs/model.md §11.1, §11.3).

With lumped consumption a slot adds X = G + s - sum_{j<=N} e_j [J]: a Gamma harvest G (or a
deterministic one, s) less a compound-Poisson sum of task energies. :class:`IncrementLaw`
holds this law and :func:`increment_law` builds it from a configuration or a workload at a
routing error and provisioning ratio; the private helpers give its cumulant exponent
psi(u) = log E[exp(i u X)] and check that :mod:`energy_routing.theory.exact` can handle it
(a Gamma harvest, or X on a lattice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

#: Largest number of quadrature nodes evaluated at once (memory: nodes x atoms).
_NODE_CHUNK = 1 << 14


def _integral_multiple(values, span):
    """True when every value is an integer multiple of ``span`` (to 1e-9 relative)."""
    ratio = np.asarray(values, dtype=float) / span
    return bool(np.all(np.abs(ratio - np.rint(ratio)) <= 1e-9 * np.maximum(1.0, np.abs(ratio))))


@dataclass(frozen=True, eq=False)
class IncrementLaw:
    r"""Law of one slot's battery increment X = R - C (docs/model.md §11.1).

    .. math::

        X = G + s - \sum_{j=1}^{N} e_j, \qquad G \sim \mathrm{Gamma}(k_R, \theta),\;
        N \sim \mathrm{Poisson}(\lambda),\; P(e_j = \epsilon_i) = p_i,

    the Gamma harvest (absent when ``gamma_shape`` is 0, where ``shift_J`` holds a
    deterministic harvest) minus the lumped compound-Poisson consumption of one slot. Build
    it with :func:`increment_law` (from a config, a workload or a config file) or
    :meth:`from_workload`.

    Parameters
    ----------
    gamma_shape : float
        Shape k_R = R_bar^2 / sigma_R^2 of the Gamma harvest [-]; 0 for none.
    gamma_scale_J : float
        Scale theta = sigma_R^2 / R_bar of the Gamma harvest [J]; ignored when the shape is 0.
    shift_J : float
        Deterministic part of the increment [J] (the harvest when it has no variance).
    arrival_rate : float
        lambda, mean number of tasks per slot [1/slot].
    energy_J : array_like
        Energy atoms epsilon_i of one task [J], non-negative.
    energy_prob : array_like
        Their probabilities p_i under the routing policy [-]; summing to 1.
    routing_error : float, optional
        epsilon the law was built for [-] (metadata; NaN for a hand-made law).
    lattice_span_J : float, optional
        Span h [J] of the lattice that carries X when there is no Gamma part; detected
        automatically when the atoms and the shift are whole numbers of joules.

    Raises
    ------
    ValueError
        Naming the offending field.

    Examples
    --------
    >>> law = IncrementLaw(1.0, 2.0, 0.0, 1.0, [1.0, 3.0], [0.5, 0.5])
    >>> law.mean_J, law.variance_J2   # 1 * 2 - 1 * 2, 1 * 2^2 + 1 * 5
    (0.0, 9.0)
    >>> IncrementLaw(0.0, 0.0, 2.0, 0.5, [2.0, 4.0], [0.5, 0.5]).lattice_span_J
    2.0
    """

    gamma_shape: float
    gamma_scale_J: float
    shift_J: float
    arrival_rate: float
    energy_J: np.ndarray
    energy_prob: np.ndarray
    routing_error: float = math.nan
    lattice_span_J: float | None = None

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("gamma_shape", "gamma_scale_J", "shift_J", "arrival_rate"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
            put(name, value)
        if self.gamma_shape < 0 or self.arrival_rate < 0:
            raise ValueError("gamma_shape and arrival_rate must be >= 0")
        if self.gamma_shape > 0 and not self.gamma_scale_J > 0:
            raise ValueError("gamma_scale_J must be > 0 when gamma_shape > 0")
        if self.gamma_shape == 0:
            put("gamma_scale_J", 0.0)
        put("routing_error", float(self.routing_error))

        atoms = np.asarray(self.energy_J, dtype=float).ravel()
        probs = np.asarray(self.energy_prob, dtype=float).ravel()
        if atoms.shape != probs.shape or atoms.size == 0:
            raise ValueError("energy_J and energy_prob must be non-empty and of equal length")
        if not (np.all(np.isfinite(atoms)) and np.all(atoms >= 0)):
            raise ValueError("energy_J must hold finite, non-negative energies [J]")
        if not (np.all(np.isfinite(probs)) and np.all(probs >= 0)):
            raise ValueError("energy_prob must hold finite, non-negative probabilities")
        if abs(probs.sum() - 1.0) > 1e-9:
            raise ValueError(f"energy_prob must sum to 1, got {probs.sum()!r}")
        atoms, where = np.unique(atoms, return_inverse=True)
        probs = np.bincount(where, weights=probs / probs.sum(), minlength=atoms.size)
        keep = probs > 0
        atoms, probs = atoms[keep], probs[keep]
        atoms.setflags(write=False)
        probs.setflags(write=False)
        put("energy_J", atoms)
        put("energy_prob", probs)
        if not self.variance_J2 > 0:
            raise ValueError("the increment must have a positive variance")

        span = self.lattice_span_J
        support = np.append(atoms, self.shift_J)
        if self.gamma_shape > 0:
            span = None
        elif span is not None:
            span = float(span)
            if not (math.isfinite(span) and span > 0 and _integral_multiple(support, span)):
                raise ValueError(
                    f"lattice_span_J={span!r}: the atoms and the shift must be multiples of it"
                )
        elif _integral_multiple(support, 1.0):
            span = float(math.gcd(*(int(v) for v in np.rint(np.abs(support)))))
        put("lattice_span_J", span)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_workload(cls, workload, routing_error: float = 0.0) -> IncrementLaw:
        """The lumped per-slot increment of a Monte Carlo workload (docs/model.md §11.1).

        Reuses the engine's own formulas: the routing probabilities of
        ``theory_moments._route_probabilities`` (docs/model.md §8) and the Gamma shape and scale
        of :func:`energy_routing.theory.moments.harvest_gamma` (a deterministic harvest when
        its variance is 0), so the law is the one :func:`energy_routing.engine.driver.simulate`
        samples under the myopic policy with routing error.

        Parameters
        ----------
        workload : energy_routing.model.workload.Workload
            Tasks, energies, arrival rate and harvest.
        routing_error : float, default 0.0
            epsilon, misrouting probability [-], in [0, 1].

        Returns
        -------
        IncrementLaw
        """
        from energy_routing.theory import moments as theory_moments
        from energy_routing.theory.moments import harvest_gamma

        routing_error = float(routing_error)
        if not 0.0 <= routing_error <= 1.0:
            raise ValueError(f"routing_error must lie in [0, 1], got {routing_error!r}")
        shape, scale = harvest_gamma(workload.harvest_mean_J, workload.harvest_var_J2)
        probs = theory_moments._route_probabilities(workload, routing_error) * workload.mix[:, None]
        gamma = 0 < shape < math.inf  # the engine's deterministic harvest is shape inf
        return cls(
            gamma_shape=shape if gamma else 0.0,
            gamma_scale_J=scale if gamma else 0.0,
            shift_J=0.0 if gamma else workload.harvest_mean_J,
            arrival_rate=workload.arrival_rate,
            energy_J=workload.energy_J.ravel(),
            energy_prob=probs.ravel(),
            routing_error=routing_error,
        )

    # ------------------------------------------------------------------ moments

    def energy_moment(self, n: int) -> float:
        """E[e^n], the n-th moment of one task's energy [J^n]."""
        return float(self.energy_prob @ self.energy_J**n)

    def cumulant(self, n: int) -> float:
        """n-th cumulant of X [J^n] (docs/model.md §11.1).

        ``k_R theta + s - lambda E[e]`` for n = 1, else
        ``k_R theta^n (n - 1)! + (-1)^n lambda E[e^n]``.
        """
        n = int(n)
        if n < 1:
            raise ValueError("n must be >= 1")
        gamma = self.gamma_shape * self.gamma_scale_J**n * math.factorial(n - 1)
        if n == 1:
            return gamma + self.shift_J - self.arrival_rate * self.energy_moment(1)
        return gamma + (-1) ** n * self.arrival_rate * self.energy_moment(n)

    @property
    def mean_J(self) -> float:
        """Drift mu = E[X] [J/slot]."""
        return self.cumulant(1)

    @property
    def variance_J2(self) -> float:
        """sigma^2 = Var X [J^2/slot]."""
        return self.cumulant(2)

    @property
    def sigma_J(self) -> float:
        """Volatility sigma [J/sqrt(slot)]."""
        return math.sqrt(self.variance_J2)

    def centred(self) -> IncrementLaw:
        """The same law shifted to zero drift (the critical walk of §11.5)."""
        return replace(self, shift_J=self.shift_J - self.mean_J, lattice_span_J=None)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws of X [J] (docs/model.md §11.1).

        The Gamma harvest plus the shift, less a Poisson(lambda) number of task energies
        drawn from the atoms with their probabilities: the walk's own step law, e.g. for
        the null of the transition test (§11.6).
        """
        n = int(size)
        x = np.full(n, self.shift_J)
        if self.gamma_shape > 0:
            x += rng.gamma(self.gamma_shape, self.gamma_scale_J, n)
        if self.arrival_rate > 0:
            counts = rng.poisson(self.arrival_rate, n)
            energy = rng.choice(self.energy_J, size=int(counts.sum()), p=self.energy_prob)
            slot = np.repeat(np.arange(n), counts)
            x -= np.bincount(slot, weights=energy, minlength=n)
        return x

    def standardised_cumulants(self) -> dict[int, float]:
        """Cumulants of Y = -X over sigma^n, n = 3..7 [-] (docs/model.md §11.4)."""
        sigma = self.sigma_J
        return {n: (-1) ** n * self.cumulant(n) / sigma**n for n in range(3, 8)}


def increment_law(source, routing_error: float = 0.0) -> IncrementLaw:
    """The per-slot increment law of a workload (docs/model.md §11.1).

    The one call that builds the input of the exact theory. The theory reads no config
    and no file: build the workload of a config with
    :func:`energy_routing.model.grids.workload` first.

    Parameters
    ----------
    source : Workload or IncrementLaw
        A :class:`energy_routing.model.workload.Workload` (anything with its fields), or a
        law (returned as it is).
    routing_error : float, default 0.0
        epsilon [-] (ignored for a law).

    Returns
    -------
    IncrementLaw

    Examples
    --------
    >>> increment_law({"arrival_rate": 1.0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: increment_law: expected a Workload or an IncrementLaw, got dict; ...
    """
    if isinstance(source, IncrementLaw):
        return source
    if not all(hasattr(source, f) for f in ("mix", "energy_J", "harvest_mean_J")):
        raise TypeError(
            f"increment_law: expected a Workload or an IncrementLaw, got "
            f"{type(source).__name__}; build a config's workload with "
            "energy_routing.model.grids.workload(grids.task_grid(cfg), cfg, provisioning)"
        )
    return IncrementLaw.from_workload(source, routing_error)


def _as_law(source, routing_error) -> IncrementLaw:
    """Resolve the first two arguments of the exact functions into a law."""
    if isinstance(source, IncrementLaw):
        if routing_error is not None and not (
            math.isclose(float(routing_error), source.routing_error, abs_tol=0.0)
        ):
            raise ValueError(
                "routing_error: an IncrementLaw already fixes it; pass None "
                f"(law built for {source.routing_error!r}, got {routing_error!r})"
            )
        return source
    return increment_law(source, 0.0 if routing_error is None else routing_error)


# ------------------------------------------------------------- characteristic function


def _cumulant_exponent(law: IncrementLaw, u):
    """Real and imaginary parts of psi(u) = log E[exp(i u X)] (docs/model.md §11.3).

    ``Re psi = -(k_R / 2) log(1 + u^2 theta^2) - 2 lambda sum_i p_i sin^2(u e_i / 2)`` and
    ``Im psi = k_R atan(u theta) + u s - lambda sum_i p_i sin(u e_i)``; written with
    ``log1p`` and ``sin^2`` so that nothing cancels near u = 0.
    """
    u = np.asarray(u, dtype=float)
    re = np.zeros_like(u)
    im = u * law.shift_J
    if law.gamma_shape > 0:
        t = u * law.gamma_scale_J
        re -= 0.5 * law.gamma_shape * np.log1p(t * t)
        im += law.gamma_shape * np.arctan(t)
    if law.arrival_rate > 0:
        lam, e, p = law.arrival_rate, law.energy_J, law.energy_prob
        flat_u, flat_re, flat_im = u.ravel(), re.ravel(), im.ravel()
        for start in range(0, flat_u.size, _NODE_CHUNK):
            part = slice(start, start + _NODE_CHUNK)
            ue = flat_u[part, None] * e
            flat_re[part] -= 2.0 * lam * (np.sin(0.5 * ue) ** 2 @ p)
            flat_im[part] -= lam * (np.sin(ue) @ p)
        re, im = flat_re.reshape(u.shape), flat_im.reshape(u.shape)
    return re, im


def _exact_law(source, routing_error) -> IncrementLaw:
    """The law, checked to be one the exact theory handles (Gamma harvest or lattice)."""
    law = _as_law(source, routing_error)
    if law.gamma_shape == 0 and law.lattice_span_J is None:
        raise ValueError(
            "the exact theory needs a Gamma harvest (sigma_R^2 > 0) or a lattice law: the "
            "atoms and the deterministic harvest must be multiples of lattice_span_J"
        )
    return law
