"""Random task energies: stochastic reasoning length in the engine (docs/model.md §12.5).

:class:`EnergyLaw` holds what a task's energy depends on when its model stops at the S-th
successful skill instead of spending its whole budget: per (type, model) the success
probability p and the attempt budget k*, and per model the energy coefficients a and b.
The engine draws, per task, K = S + NegBin(S, p) attempts from its own random stream
(:func:`energy_stream`), caps them at k*, and charges E_m(omega min(K, k*)) (lumped
consumption). Routing and deferral still decide on the oracle energy e_im; only the charge
is random. Exact moments: :func:`energy_routing.model.reasoning.energy_moments`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energy_routing.engine.streams import STREAM_ENERGY, trial_stream

__all__ = ["EnergyLaw", "energy_stream"]


def energy_stream(root_seed: int, key: int, trial: int) -> np.random.Generator:
    """The trial's generator of task energies, independent of its four other streams."""
    return trial_stream(root_seed, key, trial, STREAM_ENERGY)


@dataclass(frozen=True)
class EnergyLaw:
    """Stochastic reasoning length of every (type, model) (docs/model.md §12.5).

    Parameters
    ----------
    skill_prob : ndarray, shape (K, M)
        p, success probability of one skill attempt, in (0, 1].
    budget_attempts : ndarray of int, shape (K, M)
        k*, the attempt budget (a task not solved within it fails, having spent it).
    skills : int
        S.
    tokens_per_attempt : int
        omega [tokens].
    a_J, b_J : ndarray, shape (M,)
        Energy per token [J/token] and per cached token [J/token^2] (docs/model.md §1).
    """

    skill_prob: np.ndarray
    budget_attempts: np.ndarray
    skills: int
    tokens_per_attempt: int
    a_J: np.ndarray
    b_J: np.ndarray

    def __post_init__(self) -> None:
        p = np.array(self.skill_prob, dtype=float)
        cap = np.array(self.budget_attempts)
        a = np.array(self.a_J, dtype=float)
        b = np.array(self.b_J, dtype=float)
        if p.ndim != 2 or np.any(~(p > 0) | (p > 1)):
            raise ValueError("energy_law.skill_prob: expected a K x M array in (0, 1]")
        if cap.shape != p.shape or not np.issubdtype(cap.dtype, np.integer) or np.any(cap < 1):
            raise ValueError("energy_law.budget_attempts: expected positive integers, K x M")
        if a.shape != (p.shape[1],) or b.shape != a.shape or np.any(a < 0) or np.any(b < 0):
            raise ValueError("energy_law.a_J, b_J: expected M non-negative coefficients")
        if int(self.skills) < 1 or int(self.tokens_per_attempt) < 1:
            raise ValueError("energy_law.skills, tokens_per_attempt: must be >= 1")
        for name, value in (("skill_prob", p), ("budget_attempts", cap.astype(np.int64))):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "a_J", a)
        object.__setattr__(self, "b_J", b)
        object.__setattr__(self, "skills", int(self.skills))
        object.__setattr__(self, "tokens_per_attempt", int(self.tokens_per_attempt))

    def draw(self, types, models, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Energy [J] and failure flag of each task (type, model), in the given order."""
        types = np.asarray(types, dtype=np.int64)
        models = np.asarray(models, dtype=np.int64)
        if types.size == 0:
            return np.zeros(0), np.zeros(0, dtype=bool)
        k = self.skills + rng.negative_binomial(self.skills, self.skill_prob[types, models])
        cap = self.budget_attempts[types, models]
        n = np.minimum(k, cap).astype(np.float64) * self.tokens_per_attempt
        energy = self.a_J[models] * n + self.b_J[models] * n * (n - 1.0) / 2.0
        return energy, k > cap
