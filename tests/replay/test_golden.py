"""Golden regression: the numbers of the tiny run, committed in tests/replay/golden/tiny.json.

The fingerprint (:func:`energy_routing.replay.golden.fingerprint`) holds every value of
``summary.json``, a checksum and the sum of every NetCDF variable, and a checksum and the
column sums of every table. The results are deterministic from the seed, so any change
that moves a number fails here, naming it (``summary.json:regimes_fig4.rows[1].mu:
-12.66 -> -12.7``); such a change says so in the same commit by regenerating the file:

    ENERGY_ROUTING_UPDATE_GOLDEN=1 .venv/bin/pytest tests/replay/test_golden.py

and committing tests/replay/golden/tiny.json with it (its diff shows every number that moved).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from energy_routing.replay import golden as replay

GOLDEN = Path(__file__).parent / "golden" / "tiny.json"
UPDATE = "ENERGY_ROUTING_UPDATE_GOLDEN"
#: Relative tolerance of floats: the numbers are deterministic, this only forgives the
#: last bits of a sum.
REL = 1e-12


@pytest.mark.slow
def test_tiny_run_matches_golden(tiny_run):
    actual = replay.fingerprint(tiny_run / "results")
    if os.environ.get(UPDATE) == "1":
        replay.dump_fingerprint(actual, GOLDEN)
        return
    assert GOLDEN.is_file(), f"no {GOLDEN}: create it with {UPDATE}=1 pytest {__file__}"
    moved = replay.compare_fingerprints(json.loads(GOLDEN.read_text()), actual, rel=REL)
    assert not moved, (
        f"{len(moved)} numbers of the tiny run moved (golden -> now). If that is intended, "
        f"regenerate with `{UPDATE}=1 .venv/bin/pytest tests/replay/test_golden.py` and commit "
        f"tests/replay/golden/tiny.json in the same commit:\n" + "\n".join(moved)
    )


def test_fingerprint_names_what_moved():
    golden = {"summary.json:regimes_fig4.rows[2].mean_D_Tmax_J": 1234.5, "x.nc:a.sha256": "ab"}
    now = {"summary.json:regimes_fig4.rows[2].mean_D_Tmax_J": 1240.1, "x.nc:a.sha256": "ab"}
    assert replay.compare_fingerprints(golden, now) == [
        "summary.json:regimes_fig4.rows[2].mean_D_Tmax_J: 1234.5 -> 1240.1"
    ]
    # Within the tolerance (last bits of a sum) nothing moved; ints and strings are exact.
    assert replay.compare_fingerprints({"a": 1.0}, {"a": 1.0 + 1e-15}) == []
    assert replay.compare_fingerprints({"a": 3}, {"a": 4}) == ["a: 3 -> 4"]
