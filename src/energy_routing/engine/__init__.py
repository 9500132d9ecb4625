"""Seams of the Monte Carlo engine (docs/model.md §6-8, §12).

The driver and the fast vectorised path live in :mod:`energy_routing.montecarlo`; this
package holds what plugs into it:

* :mod:`energy_routing.engine.policies` -- dispatch policies (myopic with routing error,
  variance-aware, slack-aware deferral, drift-plus-penalty), validated, with the integer
  codes the per-slot kernel reads;
* :mod:`energy_routing.engine.storage` -- the battery (unbounded and lossless, or finite
  with charge/discharge efficiencies and self-discharge);
* :mod:`energy_routing.engine.kernels` -- the per-slot numba kernel and its named state.

The package imports nothing above it (no files, no config); importing it loads only numpy
and numba.
"""
