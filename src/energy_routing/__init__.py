"""Energy-aware routing to large reasoning models.

Reference implementation of the model in arXiv:2601.00823 (in the project's words:
``docs/model.md``). The subpackages follow the data path; nothing lower imports anything
higher:

``model``      hardware, capability, chain-of-thought budgets, task grids, the workload
``supply``     harvests (i.i.d., AR(1), solar), site weather, the daily load cycle
``theory``     diffusion closed forms, exact discrete theory, Lemma 2 moments (pure maths)
``engine``     the Monte Carlo engine: streams, draws, kernels, policies, stores, driver
``studies``    config -> engine runs: policies, routers, storage, sites, carbon, sizing
``analysis``   regime fits, the calibrated transition test, tables, control variates
``io``         NetCDF conventions, atomic writes, provenance
``figures``    seaborn figures, one module per part of the report
``report``     the Markdown/HTML report, one module per part
``replay``     archives, replays and the golden fingerprint
``stages``     one module per Snakemake rule, and the stage registry
``config``     validation and defaults (the schema); ``units``, ``errors``, ``cli``
"""

__version__ = "0.1.0"
