"""Capability of a model from training-compute scaling (docs/model.md §2).

The Chinchilla fit ``L(N, D) = E + A / N^alpha + B / D^beta`` restricted to the
compute-optimal frontier, where the two reducible terms stand in the ratio
``alpha : beta``, collapses to a law in the parameter count alone,
``L(N) = L_irr + Gamma N^-gamma``. A skill attempt on a task of difficulty ``l``
succeeds with a probability that is a sigmoid of ``l - L(N)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class Chinchilla:
    """The five constants of the Chinchilla loss fit (docs/model.md §2) [-]."""

    E: float = 1.69
    A: float = 406.4
    B: float = 410.7
    alpha: float = 0.34
    beta: float = 0.28


@dataclass(frozen=True)
class FrontierLaw:
    """``L(N) = L_irr + Gamma N^-gamma`` on the compute-optimal frontier (docs/model.md §2).

    Attributes
    ----------
    L_irr : float
        Irreducible loss [nats/token].
    Gamma : float
        Scale of the reducible term [nats/token].
    gamma : float
        Exponent in the parameter count [-].
    """

    L_irr: float
    Gamma: float
    gamma: float

    def loss(self, params):
        """Loss L(N) of a model with ``params`` parameters [nats/token]."""
        return self.L_irr + self.Gamma * np.asarray(params, dtype=float) ** (-self.gamma)


def frontier_law(c: Chinchilla) -> FrontierLaw:
    """Derive the frontier law from the Chinchilla constants (docs/model.md §2).

    On the frontier ``B / D^beta = (alpha / beta) A / N^alpha``, so
    ``L_irr = E``, ``gamma = alpha`` and ``Gamma = A (1 + alpha / beta)``.

    Examples
    --------
    >>> law = frontier_law(Chinchilla())
    >>> law.L_irr, law.gamma, round(law.Gamma, 1)
    (1.69, 0.34, 899.9)
    """
    return FrontierLaw(L_irr=c.E, Gamma=c.A * (1.0 + c.alpha / c.beta), gamma=c.alpha)


def skill_probability(difficulty, loss, steepness: float):
    """Success probability of one skill attempt, p_m(l) [-] (docs/model.md §2).

    ``p = 1 / (1 + exp(-b_s (l - L)))`` with difficulty ``l`` and model loss ``L``
    [nats/token] and steepness ``b_s`` [token/nats]; broadcasts over its arguments.

    Examples
    --------
    >>> float(skill_probability(1.8, 1.8, 5.0))
    0.5
    """
    diff = np.asarray(difficulty, dtype=float) - np.asarray(loss, dtype=float)
    return expit(steepness * diff)
