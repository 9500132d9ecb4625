"""Energy-aware routing to large reasoning models.

Reference implementation of the model in arXiv:2601.00823 (spec: ``docs/model.md``).
Modules, in the order of the data path:

``hardware``     per-token energy and time of each hosted model (docs/model.md §1)
``capability``   Chinchilla loss and skill success probability (docs/model.md §2)
``ds3``          chain-of-thought success and minimum token budgets (docs/model.md §3)
``grids``        per-task grids, feasibility, profiles and the lower bound C_LB (docs/model.md §4-5)
``theory``       closed forms for the deficit D_T (docs/model.md §7)
``montecarlo``   the sharded Monte Carlo engine (docs/model.md §6, 8)
``regimes``      BIC segmented-fit regime detection (docs/model.md §9)
"""

__version__ = "0.1.0"
