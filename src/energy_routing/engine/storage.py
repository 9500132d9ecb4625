"""The battery the harvest charges and the tasks draw from (docs/model.md §6, §12.1, §15).

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

:func:`store_step` is the one home of these steps, with optional charge and discharge
power limits (docs/model.md §15): the per-slot kernel calls it without limits, and
:func:`walk_years` with them, walking a store through whole years of hourly PV against a
load (the year at a real site, checked against Vessim's batteries).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

__all__ = ["YEAR_COLUMNS", "Storage", "store_step", "walk_years"]


@numba.njit(nogil=True, cache=True)
def store_step(s, x, capacity, eta_c, eta_d, keep, charge_max, discharge_max):  # pragma: no cover
    """One slot of the store's bookkeeping, the only home of steps 1-3 above
    (docs/model.md §12.1, §15).

    Parameters
    ----------
    s : float
        Stored energy at the start of the slot [J].
    x : float
        Net flow of the slot, harvest minus consumption [J].
    capacity : float
        Largest stored energy [J] (``inf``: unbounded).
    eta_c, eta_d : float
        Charging and discharging efficiency [1].
    keep : float
        Fraction of the stored energy kept over the slot (1 - self-discharge) [1].
    charge_max, discharge_max : float
        Largest surplus the store takes in and largest deficit it delivers in the slot
        [J] (power limit x slot length; ``inf``: no limit). A surplus above
        ``charge_max`` is spilled, a deficit above ``discharge_max`` is auxiliary energy.

    Returns
    -------
    (s, spilled, aux) : tuple of float
        Stored energy at the end of the slot, harvest spilled and auxiliary energy in the
        slot [J]. With no power limits these are the operations the per-slot kernel has
        always done, so its results are unchanged bit for bit (the golden file).
    """
    spilled = 0.0
    aux = 0.0
    if keep != 1.0:
        s = s * keep
    if x >= 0.0:
        if x > charge_max:
            spilled = x - charge_max
            x = charge_max
        s = s + eta_c * x
        if s > capacity:
            spilled += (s - capacity) / eta_c
            s = capacity
    else:
        if x < -discharge_max:
            aux = -discharge_max - x
            x = -discharge_max
        s = s + x / eta_d
        if s < 0.0:
            aux -= s * eta_d
            s = 0.0
    return s, spilled, aux


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


#: Columns of :func:`walk_years`'s output, per simulated year [J] (``s_end``: stored energy
#: at the end of the year).
YEAR_COLUMNS = ("pv_J", "load_J", "direct_J", "grid_J", "spilled_J", "drawn_J", "s_end_J")


@numba.njit(nogil=True, cache=True)
def walk_years(
    pv_W, pv_scale, load_J, dt_s, s0, capacity, eta_c, eta_d, keep, charge_max, discharge_max
):  # pragma: no cover - numba
    """Walk a store through consecutive years of hourly PV power (docs/model.md §15).

    Parameters
    ----------
    pv_W : ndarray (n_years, 8760)
        Hourly mean PV power per unit of array [W/unit]; power is held within the hour.
    pv_scale : float
        Array size [units, e.g. kWp].
    load_J : ndarray (n_slots,)
        Consumption of each slot of a year [J]; ``n_slots * dt_s`` is one year and
        ``3600 / dt_s`` a whole number of slots.
    dt_s : float
        Slot length [s].
    s0 : float
        Stored energy at the start of the first year [J]; each year starts where the
        previous one ended.
    capacity, eta_c, eta_d, keep, charge_max, discharge_max : float
        The store of :func:`store_step` (``capacity = charge_max = discharge_max = 0``: no
        store).

    Returns
    -------
    ndarray (n_years, 7)
        Per year, the columns of :data:`YEAR_COLUMNS`: PV energy, consumption, PV used
        directly (``min(PV, load)`` per slot), auxiliary (grid) energy, spilled PV,
        energy drawn from the store (before the discharge loss) and the stored energy at
        the end [J].
    """
    n_years = pv_W.shape[0]
    n = load_J.size
    per_hour = n // pv_W.shape[1]
    out = np.zeros((n_years, 7))
    s = s0
    for y in range(n_years):
        pv_sum = 0.0
        load_sum = 0.0
        direct = 0.0
        grid = 0.0
        spill = 0.0
        drawn = 0.0
        for t in range(n):
            p = pv_W[y, t // per_hour] * pv_scale * dt_s
            c = load_J[t]
            x = p - c
            s_before = s * keep
            s, spilled, aux = store_step(
                s, x, capacity, eta_c, eta_d, keep, charge_max, discharge_max
            )
            pv_sum += p
            load_sum += c
            direct += min(p, c)
            grid += aux
            spill += spilled
            if x < 0.0:
                drawn += s_before - s
        out[y, 0] = pv_sum
        out[y, 1] = load_sum
        out[y, 2] = direct
        out[y, 3] = grid
        out[y, 4] = spill
        out[y, 5] = drawn
        out[y, 6] = s
    return out
