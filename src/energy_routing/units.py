"""Unit conversions used across the package, in one place.

Everything inside the package computes in SI base units, energies in joules [J], times in
seconds [s] or slots; these constants turn them into what a planner reads (kWh, hours,
days). docs/model.md §13 names where each appears.

>>> 7.2e6 / J_PER_KWH
2.0
>>> SECONDS_PER_DAY / SECONDS_PER_HOUR == HOURS_PER_DAY
True
"""

from __future__ import annotations

#: Joules in one kilowatt-hour [J/kWh].
J_PER_KWH = 3.6e6
#: Seconds in one hour [s/h].
SECONDS_PER_HOUR = 3600.0
#: Seconds in one day [s/day].
SECONDS_PER_DAY = 86400.0
#: Hours in one day [h/day].
HOURS_PER_DAY = 24
