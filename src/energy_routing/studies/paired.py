"""What the paired comparisons share: the standard error over trials (docs/model.md §12.6).

The studies pair their cases trial by trial on common random numbers and report each mean,
or mean difference, with its standard error std(ddof=1) / sqrt(n) over the n trials (NaN
for a single trial), computed by the private helper here for
:mod:`energy_routing.studies.policies`, ``.routers``, ``.storage`` and ``.site``.
"""

from __future__ import annotations

import math

import numpy as np


def _sem(x: np.ndarray, axis: int = -1) -> np.ndarray:
    n = x.shape[axis]
    return (
        np.std(x, axis=axis, ddof=1) / math.sqrt(n)
        if n > 1
        else np.full(np.delete(x.shape, axis), np.nan)
    )
