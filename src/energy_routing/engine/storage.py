"""The battery the harvest charges and the tasks draw from (docs/model.md §6, §12.1).

:class:`Storage` describes the energy store of one scenario. The default, an unbounded
and lossless store, is the floored battery F_t of Theorem 1: it never spills and its
auxiliary top-up equals the deficit D_T of the free walk on every path. A finite store
with losses is walked by the per-slot kernel (:mod:`energy_routing.engine.per_slot`), one
slot at a time, in this order (stored energy s, net flow x_t = R_t - C_t, all in J):

1. self-discharge: s <- s (1 - self_discharge_per_slot);
2. if x_t >= 0: s <- s + eta_charge x_t; what exceeds the capacity is *spilled*:
   the harvest (s - capacity) / eta_charge [J] is wasted and s <- capacity;
3. if x_t < 0: s <- s + x_t / eta_discharge; if that is negative the shortfall
   -s eta_discharge [J] is covered by *auxiliary* energy and s <- 0.

With capacity = inf, eta_charge = eta_discharge = 1 and no self-discharge these are
exactly the floating-point operations of the fast path's floored battery, so the
auxiliary energy is bit-identical to Theorem 1's injections (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

__all__ = ["Storage"]


@dataclass(frozen=True)
class Storage:
    """An energy store (docs/model.md §12.1).

    Parameters
    ----------
    capacity_J : float, default inf
        Largest stored energy [J]; ``inf`` for an unbounded store. Must be > 0.
    eta_charge : float, default 1
        Fraction of a surplus that is stored [1], in (0, 1].
    eta_discharge : float, default 1
        Energy delivered per unit of stored energy drawn [1], in (0, 1].
    self_discharge_per_slot : float, default 0
        Fraction of the stored energy lost at the start of each slot [1/slot], in [0, 1).

    Raises
    ------
    ValueError
        Naming the field and its allowed range.

    Examples
    --------
    >>> Storage().unbounded
    True
    >>> Storage(capacity_J=5e4, eta_charge=0.95).unbounded
    False
    >>> Storage(eta_charge=1.5)
    Traceback (most recent call last):
    ...
    ValueError: storage.eta_charge: must lie in (0, 1], got 1.5
    """

    capacity_J: float = math.inf
    eta_charge: float = 1.0
    eta_discharge: float = 1.0
    self_discharge_per_slot: float = 0.0

    def __post_init__(self) -> None:
        cap = float(self.capacity_J)
        if math.isnan(cap) or cap <= 0:
            raise ValueError(f"storage.capacity_J: must be > 0 (inf = unbounded), got {cap!r}")
        for name in ("eta_charge", "eta_discharge"):
            value = float(getattr(self, name))
            if not 0.0 < value <= 1.0:
                raise ValueError(f"storage.{name}: must lie in (0, 1], got {value!r}")
            object.__setattr__(self, name, value)
        leak = float(self.self_discharge_per_slot)
        if not 0.0 <= leak < 1.0:
            raise ValueError(f"storage.self_discharge_per_slot: must lie in [0, 1), got {leak!r}")
        object.__setattr__(self, "capacity_J", cap)
        object.__setattr__(self, "self_discharge_per_slot", leak)

    @property
    def unbounded(self) -> bool:
        """True for the infinite lossless store of Theorem 1 (the fast path's battery)."""
        return (
            math.isinf(self.capacity_J)
            and self.eta_charge == 1.0
            and self.eta_discharge == 1.0
            and self.self_discharge_per_slot == 0.0
        )

    @property
    def keep_per_slot(self) -> float:
        """1 - self_discharge_per_slot: fraction of the stored energy kept per slot [1]."""
        return 1.0 - self.self_discharge_per_slot

    def settle(self, aux_J, stored_J, owed_J):
        """Auxiliary energy with the energy still owed by queued tasks billed (docs/model.md
        §12.6): the owed energy [J] is drawn from the stored energy first (delivering
        ``eta_discharge`` per unit stored) and the rest is auxiliary energy,
        ``aux + max(0, owed - eta_discharge * stored)`` [J], element-wise.

        >>> float(Storage().settle(10.0, 3.0, 5.0)), float(Storage().settle(10.0, 3.0, 0.0))
        (12.0, 10.0)
        >>> float(Storage(eta_discharge=0.5).settle(0.0, 4.0, 5.0))
        3.0
        """
        aux = np.asarray(aux_J, dtype=float)
        short = np.asarray(owed_J, dtype=float) - self.eta_discharge * np.asarray(stored_J)
        return aux + np.maximum(short, 0.0)

    #: The config key of a store's section (``policies.storage``; the storage grids set
    #: the same fields), and each field's unit and words, for schema, studies and report.
    config_key: ClassVar[str] = "storage"
    units: ClassVar[dict[str, tuple[str, str]]] = {
        "capacity_J": ("J", "store capacity (null or inf: unbounded)"),
        "eta_charge": ("-", "charging efficiency"),
        "eta_discharge": ("-", "discharging efficiency"),
        "self_discharge_per_slot": ("1/slot", "self-discharge"),
    }

    @classmethod
    def from_config(cls, section: Mapping | None) -> Storage:
        """A store from a config mapping with keys ``capacity_J`` (number or null for
        unbounded), ``eta_charge``, ``eta_discharge``, ``self_discharge_per_slot``.

        Unknown keys are rejected by name.

        >>> Storage.from_config({"capacity_J": None}).unbounded
        True
        >>> Storage.from_config({"capacity": 1.0})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: storage: unknown key 'capacity' (allowed: capacity_J, eta_charge, ...)
        """
        section = dict(section or {})
        allowed = tuple(cls.units)
        for key in section:
            if key not in allowed:
                raise ValueError(f"storage: unknown key {key!r} (allowed: {', '.join(allowed)})")
        if section.get("capacity_J", None) is None:
            section["capacity_J"] = math.inf
        return cls(**section)
