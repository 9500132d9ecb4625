"""Studies: a validated config in, engine runs out, as datasets and ``summary.json`` records.

``sections``     study config sections with their defaults, and helpers the studies share
``paired``       the standard error over trials of the paired comparisons
``policies``     dispatch policies against myopic on common random numbers (§12.6)
``routers``      dispatchers with overhead and their break-even energy (docs/model.md §12.8)
``storage``      the grid of provisioning x store capacity (docs/model.md §12.7)
``sizing``       the planner: Pareto front, cheapest design, ``energy-routing size`` (§12.7)
``site``         day-night cost and storage need at a real PV site (docs/model.md §13)
``calibration``  energy per token against EcoLogits, and its sensitivity (docs/model.md §13)

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.

Randomness: ``montecarlo.seed`` and one scenario key per study; within a study every case
sees the same arrivals and harvests.
"""
