"""Random streams of the engine: independent generators per trial (docs/model.md §6).

Trial ``k`` of the scenario with key ``key`` under root seed ``s`` draws from
``Generator(PCG64(SeedSequence(s, spawn_key=(key, k, j))))``, stream ``j`` being 0 for
arrival counts, 1 for arrival slots, 2 for routing and 3 for the harvest (4, the task
energies, is in :mod:`energy_routing.engine.energy`). A trial's path thus depends on the
root seed, scenario key, trial index and chunk size alone, never on sharding, threads or
order. The routing error, the policy and the store are not in the key, so runs differing
only in them share arrivals and harvests (common random numbers), and runs with the same
routing error share the routing draws too. :func:`scenario_key` turns a scenario name into a
key that is the same in every process.
"""

from __future__ import annotations

import zlib

import numpy as np

# Indices of the per-trial child streams (the last element of the SeedSequence spawn key).
STREAM_ARRIVALS = 0
STREAM_SLOTS = 1
STREAM_ROUTING = 2
STREAM_HARVEST = 3
_N_STREAMS = 4
#: The fifth stream, drawn only when tasks have random energies (engine.energy).
STREAM_ENERGY = 4


def scenario_key(name: str) -> int:
    """Stable integer key of a scenario name, for the random streams (CRC-32 of UTF-8).

    Unlike ``hash``, this is the same in every process and Python version.

    Examples
    --------
    >>> scenario_key("critical")
    1464146891
    """
    return zlib.crc32(name.encode("utf-8"))


def trial_streams(root_seed: int, key: int, trial: int) -> tuple[np.random.Generator, ...]:
    """The four independent generators of one trial: arrivals, slots, routing, harvest.

    Parameters
    ----------
    root_seed : int
        Root entropy of the whole study.
    key : int
        Scenario key (see :func:`scenario_key`).
    trial : int
        Global trial index.

    Returns
    -------
    tuple of numpy.random.Generator
        Indexed by ``STREAM_ARRIVALS``, ``STREAM_SLOTS``, ``STREAM_ROUTING``,
        ``STREAM_HARVEST``.
    """
    return tuple(trial_stream(root_seed, key, trial, j) for j in range(_N_STREAMS))


def trial_stream(root_seed: int, key: int, trial: int, stream: int) -> np.random.Generator:
    """Stream ``stream`` (one of the ``STREAM_*`` ids) of trial ``trial`` of scenario ``key``:
    ``Generator(PCG64(SeedSequence(root_seed, spawn_key=(key, trial, stream))))``."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(root_seed, spawn_key=(key, trial, stream)))
    )
