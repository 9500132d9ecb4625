"""Supply and load that vary in time: correlated and solar harvest, daily arrival cycle,
and the carbon of the auxiliary (grid) supply (docs/model.md §13).

``harvests``  chunk generators of R_t [J] (i.i.d. Gamma, Gamma AR(1), solar) in a registry
``solar``     PV power [W] over a typical meteorological year (pvlib), daily storage [J]
``load``      daily cosine arrival rate [tasks/slot] and non-homogeneous Poisson arrivals
``supply``    ``Supply``: the harvest model and load cycle a workload takes into the engine
``carbon``    carbon intensity of a grid region [g CO2e/kWh] and of auxiliary energy

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.

The engine draws from this package, never the other way round.
"""
