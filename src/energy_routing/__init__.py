"""Energy-aware routing to large reasoning models.

Reference implementation of the model in arXiv:2601.00823 (spec: ``shared/spec/MODEL.md``).
Modules, in the order of the data path:

``hardware``     per-token energy and time of each hosted model (MODEL.md 1)
``capability``   Chinchilla loss and skill success probability (MODEL.md 2)
``ds3``          chain-of-thought success and minimum token budgets (MODEL.md 3)
``grids``        per-task grids, feasibility, profiles and the lower bound C_LB (MODEL.md 4-5)
``theory``       closed forms for the deficit D_T (MODEL.md 7)
``montecarlo``   the sharded Monte Carlo engine (MODEL.md 6, 8)
``regimes``      BIC segmented-fit regime detection (MODEL.md 9)
"""

__version__ = "0.1.0"
